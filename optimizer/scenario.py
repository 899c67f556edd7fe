"""Scenario files: a pydantic schema, read with ``yaml.safe_load`` and validated before any work."""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from .contract import LEVEL_NAMES, MAX_YUAN, Category
from .errors import InputError, check_argument
from .inputs import DEFAULT_MAX_INPUT_MB, decode_utf8, read_bytes


def is_url(text: str) -> bool:
    """True when ``text`` names a database (``dialect://...``) rather than a folder."""
    return re.match(r"^[a-z][a-z0-9+]*://", text) is not None


def _not_a_boolean(value: Any) -> Any:
    """YAML's true and false are not numbers (pydantic would read them as 1 and 0: a poverty line of 1 yuan)."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError("a number is needed, not true or false")
    return value


Number = Annotated[float, BeforeValidator(_not_a_boolean)]
Whole = Annotated[int, BeforeValidator(_not_a_boolean)]
MAX_THREADS = 1024  # HiGHS aborted the whole process (SIGABRT) with 100,000 threads; it runs with 1,000


def _number_text(value: Any) -> Any:
    """A data edit's number written in a form YAML reads as text (``1e6``: YAML wants ``1.0e+6``) is that number."""
    if isinstance(value, str) and not value.strip().lower().startswith("x"):
        try:
            return float(value)
        except ValueError:
            return value
    return value


EditValue = Annotated[float | str | bool, BeforeValidator(_number_text)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Poverty(_Strict):
    line: Number = Field(4000.0, gt=0, description="poverty line, yuan per person per year")
    year: Whole = Field(2020, ge=2010, le=2100)


class Probability(_Strict):
    income_sigma: Number = Field(0.25, gt=0, le=2, description="log-normal spread of realised income")
    helper_uplift: Number = Field(0.0, ge=0, description="yuan per person added to work income by a matched helper")
    uncovered_guarantee_factor: Number = Field(
        0.0, ge=0, le=1, description="factor on p when a needed guarantee (education, medical, housing) is not covered"
    )


class Objective(_Strict):
    weight: Literal["households", "persons", "depth"] = "households"
    transfer_exit_weight: Number = Field(
        0.8, ge=0, le=1, description="value of an exit that relies on transfers, for households that can work"
    )


class Target(_Strict):
    lifted: Number | None = Field(None, ge=0, description="min_cost: expected households lifted to reach")
    county_incidence: Number | None = Field(None, gt=0, lt=1, description="min_cost: max expected incidence per county")
    county_incidence_western: Number | None = Field(
        None, gt=0, lt=1, description="min_cost: max incidence for counties flagged western (default: county_incidence)"
    )

    def incidence_limit(self, western: np.ndarray) -> np.ndarray:
        """The incidence each county must reach, by its western flag."""
        base = float(self.county_incidence or 0.0)
        west = self.county_incidence_western if self.county_incidence_western is not None else base
        return np.where(western, west, base)


class Equity(_Strict):
    min_county_coverage: Number | None = Field(
        None, ge=0, le=1, description="share of every county's poor households that must receive a non-empty plan"
    )
    max_cost_per_household: Number | None = Field(None, gt=0, description="yuan: plans costing more are not offered")


class Floors(_Strict):
    mode: Literal["hard", "soft"] = "hard"
    penalty: Number = Field(2.0, ge=0, description="soft mode: objective lost per household whose floor is unmet")
    labourless_guarantee: bool = True
    school_education: bool = True
    unsafe_house_renovation: bool = True


class Plans(_Strict):
    max_per_household: Whole = Field(6, ge=1, le=20)
    max_measures: Whole = Field(3, ge=1, le=4)


class HelperOptions(_Strict):
    assign: bool = Field(True, description="assign one helper per household and a first secretary per poor village")
    capacity_in_model: bool = Field(
        False, description="decide plans and helpers together: a plan needing a skill needs skilled helper capacity within reach"
    )


class SolverOptions(_Strict):
    name: Literal["highs", "pulp", "ortools"] = "highs"
    time_limit: Number = Field(120.0, gt=0, description="seconds")
    gap: Number = Field(1e-3, ge=0, lt=1, description="relative MIP gap at which to stop")
    threads: Whole = Field(0, ge=0, le=MAX_THREADS, description="0 lets the solver choose")
    seed: Whole = 0
    warm_start: bool = Field(True, description="re-solve from the previous LP basis when only bounds changed (what-ifs on money)")
    rounding: Literal["highs", "pulp", "ortools"] | None = Field(
        None,
        description="solver of a decomposed multi-year county's rounding MIPs (most of their columns fixed at the LP's choice); "
        "default: pulp (CBC) when name is highs, else name",
    )


class Nightly(_Strict):
    max_churn: Number = Field(
        0.05,
        ge=0,
        le=1,
        description="share of the households planned in the published version that a nightly re-plan may move to another plan "
        "(multi-year: of the open households whose published start is not kept, to another plan or start year)",
    )
    max_gap: Number = Field(0.005, ge=0, lt=1, description="publish a nightly allocation only when its gap to the bound is at most this")
    current_year: Whole | None = Field(
        None,
        ge=2000,
        le=2100,
        description="multi-year scenarios: the year being planned; the published version's decisions of earlier years are kept (default years.first)",
    )
    by_county: Literal["auto", "yes", "no"] = Field(
        "auto",
        description="decompose the night by county with each worker reading its counties from the registry (a multi-year night: with "
        "the starts and builds it keeps), so that the job never holds the registry's households (auto: from as many open households "
        "as solve decomposes, optimizer.solve.DECOMPOSE_FROM, or optimizer.multiyear.DECOMPOSE_FROM and DECOMPOSE_REPLAN_FROM with "
        "years, when the scenario is decomposable and has no data edits); no: load the registry whole (a large night is then "
        "decomposed in memory)",
    )

    @field_validator("by_county", mode="before")
    @classmethod
    def _yes_or_no(cls, v: Any) -> Any:
        """YAML reads an unquoted ``yes`` or ``no`` as a boolean."""
        return {True: "yes", False: "no"}.get(v, v) if isinstance(v, bool) else v


class Monitoring(_Strict):
    """Monitoring and re-support of households that exited (multi-year planning, optimizer/multiyear.py)."""

    cost: Number = Field(..., ge=0, description="yuan per monitored household per year, paid from funds in the year it is spent")
    risk_factor: Number = Field(..., ge=0, le=1, description="a monitored household's yearly return risk is multiplied by this")
    category: Literal["industry", "relocation", "ecological", "education", "guarantee", "infrastructure", "housing"] = Field(
        "guarantee", description="spending category the monitoring is paid from (the funds earmarked for it may pay)"
    )


BatchName = Literal["production", "relocation", "ecological", "education", "social_security"]


def _default_delays() -> dict[BatchName, int]:
    return {"education": 2, "production": 1}


class Years(_Strict):
    """Multi-year planning to a deadline (optimizer/multiyear.py)."""

    first: Whole = Field(..., ge=2000, le=2100, description="first planning year")
    last: Whole = Field(..., ge=2000, le=2100, description="deadline: the year by which households should be out of poverty")
    profile: Literal["even", "front_loaded", "back_loaded"] = Field("even", description="how funds.csv amounts split over the years")
    shares: list[Number] | None = Field(None, description="explicit share of every fund's amount per year (overrides profile)")
    carry_over: Literal["none", "capped", "full"] = "full"
    carry_cap: Number = Field(0.2, ge=0, le=1, description="capped carry-over: at most this share of the year's appropriation")
    delay_by_batch: dict[BatchName, Annotated[Whole, Field(ge=0)]] = Field(
        default_factory=lambda: _default_delays(), description="years from start until a measure of the batch takes effect"
    )
    delay_by_measure: dict[str, Annotated[Whole, Field(ge=0)]] = Field(default_factory=dict, description="per-measure delays (override the batch's)")
    relocation_rate: Number | None = Field(None, gt=0, le=1, description="households relocated per county per year, as a share of its poor households")
    return_risk_work: Number = Field(0.02, ge=0, lt=1, description="yearly chance of returning to poverty after a work-based exit")
    return_risk_transfer: Number = Field(0.06, ge=0, lt=1, description="yearly chance of returning to poverty after a transfer-only exit")
    early_weight: Number = Field(0.1, ge=0, le=1, description="objective weight of each expected household-year out of poverty before the deadline")
    county_exit: dict[str, Whole] = Field(default_factory=dict, description="min_cost: county_id -> year by which its incidence must be below target")
    max_start_years: Whole | None = Field(None, ge=1, description="keep at most this many start years per plan (the earliest that work); None keeps all")
    monitoring: Monitoring | None = Field(
        None, description="offer monitoring and re-support of exited households from their plan's effect to the deadline (None: off)"
    )

    @model_validator(mode="after")
    def _order(self) -> Years:
        if self.last < self.first:
            raise ValueError("years.last must not be before years.first")
        if self.shares is not None and len(self.shares) != self.last - self.first + 1:
            raise ValueError("years.shares needs one share per year from first to last")
        if self.shares is not None and (min(self.shares) < 0 or sum(self.shares) <= 0):
            raise ValueError("years.shares must be non-negative with a positive sum")
        return self


class Limits(_Strict):
    max_input_mb: Number = Field(DEFAULT_MAX_INPUT_MB, gt=0, description="largest input file in MB (10^6 bytes; Parquet: uncompressed)")
    max_memory_mb: Number | None = Field(
        None, gt=0, description="memory the monolithic solve may use, in MB (default: 80% of physical memory); larger models are refused"
    )


class Scenario(_Strict):
    """One planning question: which data, which model options, which solver."""

    name: str = "scenario"
    description: str = ""
    data: str = Field(..., description="input folder relative to the scenario file, or a database URL (sqlite:///..., postgresql://...)")
    poverty: Poverty = Poverty()
    probability: Probability = Probability()
    objective: Objective = Objective()
    mode: Literal["max_lifted", "min_cost"] = "max_lifted"
    target: Target = Target()
    equity: Equity = Equity()
    floors: Floors = Floors()
    plans: Plans = Plans()
    helpers: HelperOptions = HelperOptions()
    solver: SolverOptions = SolverOptions()
    nightly: Nightly = Nightly()
    years: Years | None = Field(None, description="multi-year planning to a deadline (None: one-year allocation)")
    limits: Limits = Limits()
    data_edits: dict[str, EditValue] = Field(
        default_factory=dict, description="data-level overrides (funds.*, measures.*), applied to the loaded instance"
    )
    base_dir: str = Field("", exclude=True, description="folder of the scenario file (set by the loader)")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        if not name or name.startswith(".") or any(c in name for c in "/\\\x00"):
            raise ValueError("must be a plain file name (no '/', '\\' or NUL, not starting with '.'): it names the default run folder out/<name>")
        return name

    def unused_settings(self) -> list[str]:
        """Settings the scenario gives that its mode never reads: warnings (a forgotten ``mode: min_cost``, say)."""
        unused = []
        if self.mode == "max_lifted" and self.target.lifted is not None:
            unused.append("target.lifted is the target of mode min_cost; mode max_lifted does not read it (set mode: min_cost to ask for it)")
        years = self.years
        if years is not None and years.carry_over != "capped" and years.carry_cap != type(years).model_fields["carry_cap"].default:
            unused.append(f"years.carry_cap caps carry_over: capped; carry_over: {years.carry_over} does not read it (set carry_over: capped to cap it)")
        return unused

    @model_validator(mode="after")
    def _target_matches_mode(self) -> Scenario:
        if self.mode == "min_cost" and self.target.lifted is None and self.target.county_incidence is None:
            raise ValueError("mode min_cost needs target.lifted or target.county_incidence")
        current = self.nightly.current_year
        if current is not None and self.years is None:
            raise ValueError("nightly.current_year (--from-year) needs a years: section (multi-year planning)")
        if current is not None and self.years is not None and not self.years.first <= current <= self.years.last:
            raise ValueError(f"nightly.current_year (--from-year) {current} lies outside years {self.years.first}..{self.years.last}")
        if self.years is not None and self.helpers.capacity_in_model:
            raise ValueError("helpers.capacity_in_model is not supported with years: (multi-year planning)")
        return self

    @property
    def data_path(self) -> Path:
        path = Path(self.data)
        return path if path.is_absolute() else Path(self.base_dir) / path

    @property
    def data_source(self) -> str:
        """The data folder, or the database URL (a relative SQLite path resolved against the scenario's folder)."""
        if not is_url(self.data):
            return str(self.data_path.resolve())
        prefix = "sqlite:///"
        rel = self.data[len(prefix) :]
        if self.data.startswith(prefix) and rel and not rel.startswith("/") and rel != ":memory:":
            return prefix + str((Path(self.base_dir) / rel).resolve())
        return self.data

    def with_overrides(self, overrides: dict[str, object]) -> Scenario:
        """A copy with dotted-path overrides applied (scenario fields and data edits alike)."""
        source = f"scenario '{self.name}'"
        data = self.model_dump()
        edits = dict(self.data_edits)
        for key, value in _mapping(overrides, "overrides", source).items():
            if key == "data_edits":  # a mapping of edits, as in a file's data_edits:
                edits.update(_mapping(value, "overrides: data_edits", source))  # type: ignore[arg-type]
            elif key.startswith(DATA_EDIT_PREFIXES):
                edits[key] = value  # type: ignore[assignment]
            else:
                _set_path(data, key.split("."), value, source)
        data["data_edits"] = edits
        data["base_dir"] = self.base_dir
        return validate_scenario(data, source)


MAX_EXTENDS = 20
MAX_YAML_BYTES = 1_000_000
DATA_EDIT_PREFIXES = ("funds.", "measures.")


def load_scenario(path: str | Path, overrides: dict[str, object] | None = None) -> Scenario:
    """Read, compose (``extends``, ``overrides``) and validate a scenario YAML file.

    ``overrides`` (dotted path -> value) are applied last, as if written in the file's ``overrides:``.
    """
    check_argument(path, (str, Path), "load_scenario: path")
    path = Path(path)
    root = path.resolve().parent
    data, lines = _compose(path, root, [])
    edits: dict[str, object] = _mapping(data.pop("overrides", None), "overrides", str(path))
    edits.update(_mapping(overrides, "overrides=", str(path)))
    data_edits = {k: v for k, v in edits.items() if k.startswith(DATA_EDIT_PREFIXES)}
    where: dict[tuple[str, ...], int | str] = dict(lines)
    for key, value in edits.items():
        if key in data_edits:
            given = OVERRIDDEN if overrides and key in overrides else lines.get(("overrides", key))
            if given is not None:
                where[("data_edits", key)] = given
            continue
        _set_path(data, key.split("."), value, str(path))
        # a problem with an overridden value is where the override was given, not where the file set it first
        at = tuple(key.split("."))
        for known in [k for k in where if k[: len(at)] == at]:
            del where[known]
        given = OVERRIDDEN if overrides and key in overrides else lines.get(("overrides", key))
        if given is not None:
            where[at] = given
    data.setdefault("name", path.stem)
    data["base_dir"] = str(root)
    data["data_edits"] = {**_mapping(data.get("data_edits"), "data_edits", str(path)), **data_edits}
    return validate_scenario(data, str(path), where)


OVERRIDDEN = "given on the command line (--set, --from-year) or by overrides=, not in the file"
MAX_YAML_DEPTH = 32  # a scenario nests three levels deep; far deeper is an attack on the parser
MAX_YAML_NODES = 10_000  # nodes after expanding aliases: refuses "billion laughs" before anything expands them
PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}


def _read_yaml(path: Path) -> tuple[dict[str, object], dict[tuple[str, ...], int]]:
    text = decode_utf8(read_bytes(path, MAX_YAML_BYTES, "scenario files are small", what="scenario file"), path)
    try:
        check_yaml_shape(text, str(path))
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InputError(f"{path}: not valid YAML: {err}") from None
    if data is None:
        raise InputError(f"{path}: the scenario is empty (it needs at least 'data: <folder>')")
    if not isinstance(data, dict):
        raise InputError(f"{path}: a scenario must be a YAML mapping, got {type(data).__name__}")
    lines: dict[tuple[str, ...], int] = {}
    _node_lines(node, (), lines)
    return data, lines


@dataclass
class _Open:
    """A mapping or sequence being read: its expanded size so far and, for a mapping, the keys seen."""

    anchor: str | None
    line: int
    keys: dict[str, int] | None  # None for a sequence
    size: int = 1
    expect_key: bool = True


def check_yaml_shape(text: str, source: str) -> None:
    """Refuse YAML that only an attack or an accident produces, from the parser's event stream (iterative: no
    tree is built and no alias is expanded): nesting deeper than :data:`MAX_YAML_DEPTH`, more than
    :data:`MAX_YAML_NODES` nodes once aliases are expanded, tags other than plain data types (``!!python/...``)
    and keys repeated in one mapping (``safe_load`` would silently keep the last)."""
    anchors: dict[str, int] = {}
    stack: list[_Open] = []

    def grow(size: int, line: int) -> None:
        if stack:
            stack[-1].size += size
            if stack[-1].size > MAX_YAML_NODES:
                raise InputError(
                    f"{source} line {line}: the document expands to more than {MAX_YAML_NODES:,} nodes through its aliases (*name); "
                    "write the values out instead"
                )

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.CollectionEndEvent)):
            done = stack.pop()
            if done.anchor:
                anchors[done.anchor] = done.size
            grow(done.size, done.line)
            continue
        if not isinstance(event, yaml.NodeEvent):
            continue
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        parent = stack[-1] if stack else None
        is_key = parent is not None and parent.keys is not None and parent.expect_key
        if parent is not None and parent.keys is not None:
            parent.expect_key = not parent.expect_key
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and tag not in PLAIN_TAGS:
            shown = str(tag).replace("tag:yaml.org,2002:", "!!")
            raise InputError(f"{source} line {line}: tag '{shown}' is not allowed; a scenario holds plain data only")
        if isinstance(event, yaml.AliasEvent):
            grow(anchors.get(str(event.anchor), 1), line)
        elif isinstance(event, yaml.ScalarEvent):
            if is_key and parent is not None and parent.keys is not None:
                if event.value in parent.keys:
                    raise InputError(f"{source} line {line}: key '{event.value}' appears twice in one mapping (first on line {parent.keys[event.value]})")
                parent.keys[event.value] = line
            if event.anchor:
                anchors[event.anchor] = 1
            grow(1, line)
        else:
            stack.append(_Open(event.anchor, line, {} if isinstance(event, yaml.MappingStartEvent) else None))
            if len(stack) > MAX_YAML_DEPTH:
                raise InputError(f"{source} line {line}: nested deeper than {MAX_YAML_DEPTH} levels")


def _node_lines(node: yaml.Node | None, prefix: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            k = prefix + (str(key.value),)
            out[k] = key.start_mark.line + 1
            _node_lines(value, k, out)


def _compose(path: Path, root: Path, chain: list[Path]) -> tuple[dict[str, object], dict[tuple[str, ...], int]]:
    """Read ``path`` and, recursively, what it ``extends`` (inside ``root``), deep-merged child over parent."""
    real = path.resolve()
    if real in chain:
        raise InputError(f"{path}: extends forms a cycle: {' -> '.join(p.name for p in [*chain, real])}")
    if len(chain) > MAX_EXTENDS:
        raise InputError(f"{path}: extends chain longer than {MAX_EXTENDS}")
    if not real.is_relative_to(root):
        raise InputError(f"{chain[-1] if chain else path}: extends '{path}' leaves the scenario folder {root}")
    data, lines = _read_yaml(real)
    parent = data.pop("extends", None)
    if parent is None:
        return data, lines
    if not isinstance(parent, str):
        raise InputError(f"{path}: extends must be a file name, got {type(parent).__name__}")
    if (real.parent / parent).resolve().is_relative_to(root) and not (real.parent / parent).is_file():
        raise InputError(f"{path} line {lines.get(('extends',), 1)}: extends '{parent}', which is not a file in {real.parent}")
    base, _ = _compose(real.parent / parent, root, [*chain, real])
    overrides = {**_mapping(base.pop("overrides", None), "overrides", str(path)), **_mapping(data.pop("overrides", None), "overrides", str(path))}
    merged = _merge(base, data)
    if overrides:
        merged["overrides"] = overrides
    return merged, lines


def _mapping(value: object, what: str, source: str) -> dict[str, object]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a mapping of dotted paths to values, got {type(value).__name__}", source=source)
    return {str(k): v for k, v in value.items()}


def _merge(base: dict[str, object], child: dict[str, object]) -> dict[str, object]:
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)  # type: ignore[arg-type]
        else:
            out[key] = value
    return out


def _set_path(data: dict[str, object], keys: list[str], value: object, source: str) -> None:
    """Set ``keys`` (a dotted path) in ``data``; a mapping given for a section is merged into it, as ``extends``
    merges, so that ``solver: {time_limit: 100}`` keeps the section's other fields."""
    node = data
    for key in keys[:-1]:
        if node.get(key) is None:  # an optional section not given (years: absent, or None once validated)
            node[key] = {}
        child = node[key]
        if not isinstance(child, dict):
            raise InputError(f"overrides: '{'.'.join(keys)}' goes through '{key}', which is not a section", source=source)
        node = child
    here = node.get(keys[-1])
    node[keys[-1]] = _merge(here, value) if isinstance(value, dict) and isinstance(here, dict) else value


def parse_value(text: str, where: str) -> object:
    """A command-line value as a YAML scalar (number, boolean, factor like ``x0.8``, text); nothing else."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InputError(f"{where}: '{text}' is not a plain value: {str(err).splitlines()[0]}") from None
    if isinstance(value, (dict, list)):
        raise InputError(f"{where}: '{text}' must be a single value (a number, true/false, a factor like x0.8 or text)")
    return value


def parse_assignments(items: list[str]) -> dict[str, object]:
    """``--set PATH=VALUE`` options as dotted-path overrides."""
    out: dict[str, object] = {}
    for item in items:
        path, sep, raw = item.partition("=")
        if not sep or not path.strip() or not raw.strip():
            raise InputError(f"--set '{item}': expected PATH=VALUE (e.g. funds.level.central=x0.8 or solver.gap=0.01)")
        out[path.strip()] = parse_value(raw.strip(), f"--set {path.strip()}")
    return out


def recorded_scenario(manifest: dict[str, object], source: str) -> Scenario:
    """The fully resolved scenario recorded in a run manifest, reading the absolute data folder recorded there."""
    scenario = manifest.get("scenario")
    if not isinstance(scenario, dict) or "data" not in manifest:
        raise InputError("the manifest records no scenario or data folder", source=source)
    return validate_scenario({**scenario, "data": str(manifest["data"]), "base_dir": ""}, source)


def validate_scenario(data: dict[str, object], source: str, lines: dict[tuple[str, ...], int | str] | None = None) -> Scenario:
    """Validate a scenario mapping; every problem names its YAML path and, when known, its line (``lines``: the line
    of a path, or a note such as :data:`OVERRIDDEN` for it and what lies below it; a data edit's key is under
    ``data_edits``)."""
    lines = lines or {}
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            loc, msg = tuple(str(p) for p in e["loc"]), e["msg"]
            if loc[-1:] == ("[key]",):  # the mapping's key itself is wrong, not its value
                loc, msg = loc[:-1], f"unknown key: {msg}"
            elif e["type"] == "invalid_key":
                msg = "unknown key (a name is expected here, not a number)"
            hint = _did_you_mean(loc) if e["type"] == "extra_forbidden" else ""
            problems.append(f"{'.'.join(loc) or '(top level)'}{_where(loc, lines)}: {msg}{hint}")
        raise InputError(problems, source=source) from None
    edits = [(key, data_edit_problem(key, value)) for key, value in scenario.data_edits.items()]
    problems = [f"data_edits.{key}{_where(('data_edits', key), lines)}: {why}" for key, why in edits if why]
    if problems:
        raise InputError(problems, source=source)
    return scenario


def _where(loc: tuple[str, ...], lines: dict[tuple[str, ...], int | str]) -> str:
    """`` (line N)`` or a note on where the value at ``loc`` was given; empty when not known."""
    line = lines.get(loc)
    if line is None:
        line = next((n for k in range(len(loc) - 1, 0, -1) if isinstance(n := lines.get(loc[:k]), str)), None)
    at = f" (line {line})" if isinstance(line, int) and line else f" ({line})" if line else ""
    given = [f"{'.'.join(k)} {v}" for k, v in lines.items() if isinstance(v, str) and len(k) > len(loc) and k[: len(loc)] == loc]
    if given:  # a rule over a section that a value given outside the file may break
        at = f"{at[:-1]}; {'; '.join(given)})" if at else f" ({'; '.join(given)})"
    return at


MEASURE_FIELDS = ("cost_fixed", "cost_per_person", "income_uplift")
FUND_EDITS = "funds.level.<level>, funds.region.<id>, funds.category.<c>, funds.paired, funds.fund.<id>, funds.add.<id>"


def edit_parts(key: str) -> list[str]:
    """A data edit's key in its parts: ``funds.<kind>.<id>`` and ``measures.<id>.<field>``, where the id may hold
    dots (region codes such as ``P01.C01`` are valid ids: their edits were refused, naming a form they had)."""
    head, _, rest = key.partition(".")
    if head == "funds" and rest:
        return [head, *rest.split(".", 1)]
    if head == "measures" and "." in rest:
        return [head, *rest.rsplit(".", 1)]
    return key.split(".")


def data_edit_problem(key: str, value: object) -> str | None:
    """What is wrong with a data edit (see :mod:`optimizer.edits`) that shows without the data: the form of its key,
    a level, category or field it names, its value. None when nothing is."""
    parts = edit_parts(key)
    if parts[0] == "funds":
        if parts[1:] == ["paired"]:
            return _edit_value_problem(value, allow_set=False)
        if len(parts) != 3 or parts[1] not in ("level", "region", "category", "fund", "add"):
            return f"unknown fund override (use {FUND_EDITS})"
        if parts[1] == "level" and parts[2] not in LEVEL_NAMES.values():
            return f"unknown level '{parts[2]}' (levels: {', '.join(LEVEL_NAMES.values())})"
        if parts[1] == "category" and parts[2] not in {c.value for c in Category}:
            return f"unknown category '{parts[2]}' (categories: {', '.join(c.value for c in Category)})"
        return _edit_value_problem(value, allow_set=parts[1] in ("fund", "add"))
    if parts[0] == "measures" and len(parts) == 3:
        if parts[2] == "enabled":
            return None if isinstance(value, bool) else "enabled must be true or false"
        if parts[2] not in MEASURE_FIELDS:
            return f"unknown measure field '{parts[2]}' (fields: {', '.join((*MEASURE_FIELDS, 'enabled'))})"
        return _edit_value_problem(value, allow_set=True)
    return f"unknown data override (use {FUND_EDITS}, measures.<id>.<field>)"


def _edit_value_problem(value: object, allow_set: bool) -> str | None:
    if isinstance(value, str) and value.startswith("x"):
        try:
            factor = float(value[1:])
        except ValueError:
            return f"'{value}' is not a factor like x0.8"
        return None if math.isfinite(factor) and factor >= 0 else "factor must be a non-negative number"
    if allow_set and isinstance(value, (int, float)) and not isinstance(value, bool):
        return None if math.isfinite(value) and 0 <= value <= MAX_YUAN else f"value must be a non-negative number of at most {MAX_YUAN:.0e}"
    return "expected a factor like 'x0.8'" + (" or a number" if allow_set else "")


def _did_you_mean(loc: tuple[str, ...]) -> str:
    model: type[BaseModel] = Scenario
    for key in loc[:-1]:
        field = model.model_fields.get(key)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    allowed = [k for k in model.model_fields if k != "base_dir"]
    close = difflib.get_close_matches(loc[-1], allowed, n=1)
    return f"; did you mean '{close[0]}'?" if close else f"; allowed: {', '.join(allowed)}"
