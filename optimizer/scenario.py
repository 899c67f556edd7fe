"""Scenario files: a pydantic schema, read with ``yaml.safe_load`` and validated before any work."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import InputError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Poverty(_Strict):
    line: float = Field(4000.0, gt=0, description="poverty line, yuan per person per year")
    year: int = Field(2020, ge=2010, le=2100)


class Probability(_Strict):
    income_sigma: float = Field(0.25, gt=0, le=2, description="log-normal spread of realised income")
    helper_uplift: float = Field(0.0, ge=0, description="yuan per person added to work income by a matched helper")
    uncovered_guarantee_factor: float = Field(
        0.0, ge=0, le=1, description="factor on p when a needed guarantee (education, medical, housing) is not covered"
    )


class Objective(_Strict):
    weight: Literal["households", "persons", "depth"] = "households"
    transfer_exit_weight: float = Field(
        0.8, ge=0, le=1, description="value of an exit that relies on transfers, for households that can work"
    )


class Target(_Strict):
    lifted: float | None = Field(None, ge=0, description="min_cost: expected households lifted to reach")
    county_incidence: float | None = Field(None, gt=0, lt=1, description="min_cost: max expected incidence per county")


class Floors(_Strict):
    mode: Literal["hard", "soft"] = "hard"
    penalty: float = Field(2.0, ge=0, description="soft mode: objective lost per household whose floor is unmet")
    labourless_guarantee: bool = True
    school_education: bool = True
    unsafe_house_renovation: bool = True


class Plans(_Strict):
    max_per_household: int = Field(6, ge=1, le=20)
    max_measures: int = Field(3, ge=1, le=4)


class HelperOptions(_Strict):
    assign: bool = Field(True, description="assign one helper per household and a first secretary per poor village")


class SolverOptions(_Strict):
    name: Literal["highs", "pulp", "ortools"] = "highs"
    time_limit: float = Field(120.0, gt=0, description="seconds")
    gap: float = Field(1e-3, ge=0, lt=1, description="relative MIP gap at which to stop")
    threads: int = Field(0, ge=0, description="0 lets the solver choose")
    seed: int = 0


class Scenario(_Strict):
    """One planning question: which data, which model options, which solver."""

    name: str = "scenario"
    description: str = ""
    data: str = Field(..., description="input folder, relative to the scenario file")
    poverty: Poverty = Poverty()
    probability: Probability = Probability()
    objective: Objective = Objective()
    mode: Literal["max_lifted", "min_cost"] = "max_lifted"
    target: Target = Target()
    floors: Floors = Floors()
    plans: Plans = Plans()
    helpers: HelperOptions = HelperOptions()
    solver: SolverOptions = SolverOptions()
    base_dir: str = Field("", exclude=True, description="folder of the scenario file (set by the loader)")

    @model_validator(mode="after")
    def _target_matches_mode(self) -> Scenario:
        if self.mode == "min_cost" and self.target.lifted is None and self.target.county_incidence is None:
            raise ValueError("mode min_cost needs target.lifted or target.county_incidence")
        return self

    @property
    def data_path(self) -> Path:
        path = Path(self.data)
        return path if path.is_absolute() else Path(self.base_dir) / path

    def with_options(self, **updates: dict[str, object]) -> Scenario:
        """A copy with nested sections updated, e.g. ``with_options(solver={"name": "pulp"})``."""
        data = self.model_dump()
        for section, values in updates.items():
            if isinstance(values, dict) and isinstance(data.get(section), dict):
                data[section] = {**data[section], **values}
            else:
                data[section] = values
        data["base_dir"] = self.base_dir
        return _validate(data, f"scenario '{self.name}'")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read scenario file {path}: {err}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise InputError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a scenario must be a YAML mapping, got {type(data).__name__}")
    data.setdefault("name", path.stem)
    data["base_dir"] = str(path.parent.resolve())
    return _validate(data, str(path))


def _validate(data: dict[str, object], source: str) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            where = ".".join(str(p) for p in e["loc"]) or "(top level)"
            problems.append(f"{where}: {e['msg']}")
        raise InputError(problems, source=source) from None
