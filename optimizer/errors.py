"""The exception hierarchy; the CLI maps each class to its exit code."""

from __future__ import annotations


class OptimizerError(Exception):
    """Base class of every error the optimizer raises on purpose."""

    exit_code = 1


class InputError(OptimizerError):
    """Bad input data or scenario: names the file, the row or YAML path, and what is wrong."""

    exit_code = 2

    def __init__(self, problems: list[str] | str, source: str | None = None, total: int | None = None):
        """``total``: how many problems there are when ``problems`` lists only the first of them."""
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        self.total = total
        head = f"invalid input in {source}" if source else "invalid input"
        if len(self.problems) == 1:
            msg = f"{head}: {self.problems[0]}"
        else:
            msg = f"{head} ({total if total is not None else len(self.problems):,} problems):\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(msg)

    def __reduce__(self) -> tuple[type, tuple[list[str], str | None, int | None]]:
        # rebuilt from its problems (a county's error comes back from a Dask worker pickled), not from its message
        return (type(self), (self.problems, self.source, self.total))


def check_argument(value: object, kinds: type | tuple[type, ...], what: str) -> None:
    """Refuse an argument of the wrong kind at the public API's door, naming it and what it should be: deep inside,
    the same mistake is an AttributeError about a column or a method."""
    allowed = kinds if isinstance(kinds, tuple) else (kinds,)
    if not isinstance(value, allowed) or isinstance(value, bool) and bool not in allowed:
        names = " or ".join(k.__name__ for k in allowed)
        raise InputError(f"{what} must be of type {names}, not {type(value).__name__} {value!r:.60}")


class InfeasibleError(OptimizerError):
    """No allocation satisfies the floors, targets and budgets; carries a diagnosis."""

    exit_code = 3

    def __init__(self, message: str, shortfalls: object = None):
        super().__init__(message)
        self.shortfalls = shortfalls


class NoSolutionError(OptimizerError):
    """The solver found no feasible allocation within its time limit; ``cause`` is the message without advice."""

    exit_code = 4

    def __init__(self, message: str, cause: str | None = None):
        super().__init__(message)
        self.cause = cause or message


class SolverUnavailableError(OptimizerError):
    """The requested solver backend is not installed or not usable for this model."""

    exit_code = 2


class BusyError(OptimizerError):
    """Another nightly job holds the database lock."""

    exit_code = 6


class NotPublishedError(OptimizerError):
    """A nightly allocation was solved but not published (gap above the tolerance); the previous version stays."""

    exit_code = 7


class ResourceLimitError(OptimizerError):
    """The run would exceed a memory limit; raised before the memory is allocated."""

    exit_code = 8


class NotReproducedError(OptimizerError):
    """``reproduce`` re-solved a run and some output table differs from the recorded one."""

    exit_code = 9


class VerificationError(OptimizerError):
    """A result violates a constraint when recomputed from the output tables and the inputs."""

    exit_code = 5

    def __init__(self, violations: list[str]):
        self.violations = violations
        shown = "\n".join(f"  - {v}" for v in violations[:50])
        more = f"\n  ... and {len(violations) - 50} more" if len(violations) > 50 else ""
        super().__init__(f"verification failed ({len(violations)} violations):\n{shown}{more}")

    def __reduce__(self) -> tuple[type, tuple[list[str]]]:
        return (type(self), (self.violations,))


class InterruptedAfterWriting(KeyboardInterrupt):
    """An interrupt that came once a new run folder was in place (while the one it replaced was being removed):
    the run is written whole, which a bare "interrupted" left in doubt."""

    def __init__(self, path: str):
        self.path = path
        super().__init__(path)
