"""Precision poverty alleviation optimizer: who gets which help so that most households leave poverty.

The public API is small: :func:`load_scenario`, :func:`load_instance`, :func:`solve`, :class:`Result`,
:func:`verify` and :func:`write_run`.
"""

__version__ = "0.1.0"

from .data import Instance, load_instance  # noqa: E402
from .outputs import read_run, write_run  # noqa: E402
from .result import Result  # noqa: E402
from .scenario import Scenario, load_scenario  # noqa: E402
from .solve import solve  # noqa: E402
from .storage import load_source  # noqa: E402
from .verify import verify, verify_run  # noqa: E402

__all__ = ["Instance", "Result", "Scenario", "load_instance", "load_scenario", "load_source", "read_run", "solve", "verify", "verify_run", "write_run"]
