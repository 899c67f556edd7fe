"""The data contract: enums and the columns of every input table (DESIGN §2).

Everything that reads or writes an input folder (loader, generator, database import) uses these
definitions, so the contract is stated once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum


class Level(IntEnum):
    """Government levels, root first."""

    CENTRAL = 0
    PROVINCE = 1
    CITY = 2
    COUNTY = 3
    TOWNSHIP = 4
    VILLAGE = 5


LEVEL_NAMES = {lv: lv.name.lower() for lv in Level}


class Batch(str, Enum):
    """The "five batches" of household measures."""

    PRODUCTION = "production"
    RELOCATION = "relocation"
    ECOLOGICAL = "ecological"
    EDUCATION = "education"
    SOCIAL_SECURITY = "social_security"


class Category(str, Enum):
    """Spending categories: what a fund may be earmarked for."""

    INDUSTRY = "industry"
    RELOCATION = "relocation"
    ECOLOGICAL = "ecological"
    EDUCATION = "education"
    GUARANTEE = "guarantee"
    INFRASTRUCTURE = "infrastructure"
    HOUSING = "housing"


class ProjectKind(str, Enum):
    """The five village project types."""

    INFRASTRUCTURE = "infrastructure"
    INDUSTRY_TOURISM = "industry_tourism"
    NEW_VILLAGE = "new_village"
    TRAINING = "training"
    ECOLOGY = "ecology"


class Cause(str, Enum):
    """Registered main cause of poverty."""

    ILLNESS = "illness"
    DISABILITY = "disability"
    LACK_OF_SKILLS = "lack_of_skills"
    LACK_OF_CAPITAL = "lack_of_capital"
    LACK_OF_LABOUR = "lack_of_labour"
    EDUCATION_BURDEN = "education_burden"
    DISASTER = "disaster"
    HARSH_ENVIRONMENT = "harsh_environment"


class Guarantee(str, Enum):
    """What a plan secures beyond income: basic living (the floor for households without labour, e.g. dibao)
    and the "three guarantees" (compulsory education, basic medical care, safe housing)."""

    LIVING = "living"
    EDUCATION = "education"
    MEDICAL = "medical"
    HOUSING = "housing"


class IncomeKind(str, Enum):
    """Hematopoietic (work) versus transfusion (transfer) income."""

    WORK = "work"
    TRANSFER = "transfer"


class Effect(str, Enum):
    """How a project acts on a measure in its village."""

    ENABLE = "enable"  # the measure is only available where the project is built
    BOOST = "boost"  # the measure's uplift rises where the project is built


class HelperKind(str, Enum):
    HOUSEHOLD_HELPER = "household_helper"
    FIRST_SECRETARY = "first_secretary"
    WORK_TEAM = "work_team"


class Skill(str, Enum):
    AGRICULTURE = "agriculture"
    EMPLOYMENT = "employment"
    HEALTH = "health"
    EDUCATION = "education"
    CONSTRUCTION = "construction"
    SOCIAL_WORK = "social_work"


class Reach(str, Enum):
    TOWNSHIP = "township"
    COUNTY = "county"


HOUSEHOLD_FLAGS = (
    "unsafe_house",
    "chronic_illness",
    "disabled",
    "elderly_only",
    "in_relocation_zone",
    "in_ecological_zone",
)
VILLAGE_FLAGS = (
    "poor_village",
    "road",
    "water",
    "power",
    "internet",
    "ecological_zone",
    "relocation_zone",
    "old_revolutionary_base",
)
# Household columns an eligibility rule may name (numeric or 0/1).
ELIGIBILITY_COLUMNS = ("size", "income_per_capita", "labour", "school_children", *HOUSEHOLD_FLAGS)
ELIGIBILITY_KEYS = ("labour_min", "labour_max", "requires_flag", "excludes_flag", "requires_cause", "min", "max", "requires_project")
PROJECT_RULE = "project"  # eligibility rows with this column name a project kind the measure needs

LIST_SEP = ";"
PLAN_PROJECT_SEP = "@"  # a plan label tied to a project: its measures, this, the project id ("industry+employment@PJ7")
# Largest amount of money (yuan) and count an input cell may hold: far above any fund, project or household, and low
# enough that sums and products over a whole country stay exact to the cent in float64 (1e308 overflows them).
MAX_YUAN = 1e12
MAX_COUNT = 1e9


@dataclass(frozen=True)
class Column:
    """One column of an input table."""

    name: str
    kind: str  # "id", "ref", "int", "float", "bool", "str", "enum", "list"
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None
    enum: type[Enum] | None = None
    default: object = None


def _flags(names: tuple[str, ...], required: bool) -> list[Column]:
    return [Column(n, "bool", required=required, default=False) for n in names]


TABLES: dict[str, list[Column]] = {
    "regions": [
        Column("region_id", "id"),
        Column("parent_id", "ref", required=True, default=""),
        Column("level", "int", minimum=0, maximum=5),
        Column("name", "str", required=False, default=""),
        Column("rural_households", "int", required=False, minimum=0, maximum=MAX_COUNT, default=0),
        Column("western", "bool", required=False, default=False),
        *_flags(VILLAGE_FLAGS, required=False),
    ],
    "households": [
        Column("household_id", "id"),
        Column("village_id", "ref"),
        Column("size", "int", minimum=1, maximum=30),
        Column("income_per_capita", "float", minimum=0, maximum=MAX_YUAN),
        Column("labour", "int", minimum=0, maximum=30),
        Column("school_children", "int", minimum=0, maximum=30, required=False, default=0),
        *_flags(HOUSEHOLD_FLAGS, required=False),
        Column("cause", "enum", enum=Cause),
    ],
    "measures": [
        Column("measure_id", "id"),
        Column("name", "str", required=False, default=""),
        Column("batch", "enum", enum=Batch),
        Column("category", "enum", enum=Category),
        Column("cost_fixed", "float", minimum=0, maximum=MAX_YUAN),
        Column("cost_per_person", "float", minimum=0, maximum=MAX_YUAN),
        Column("income_uplift", "float", minimum=0, maximum=MAX_YUAN),
        Column("income_kind", "enum", enum=IncomeKind),
        Column("covers", "list", required=False, enum=Guarantee, default=""),
        Column("eligibility", "str", required=False, default=""),
        Column("combines_with", "list", required=False, default=""),
    ],
    "projects": [
        Column("project_id", "id"),
        Column("village_id", "ref"),
        Column("kind", "enum", enum=ProjectKind),
        Column("category", "enum", enum=Category),
        Column("cost", "float", minimum=0, maximum=MAX_YUAN),
        Column("capacity", "int", minimum=0, maximum=MAX_COUNT),
        Column("measure_id", "ref"),
        Column("effect", "enum", enum=Effect),
        Column("uplift_bonus", "float", minimum=0, maximum=MAX_YUAN, required=False, default=0.0),
    ],
    "funds": [
        Column("fund_id", "id"),
        Column("region_id", "ref"),
        Column("name", "str", required=False, default=""),
        Column("amount", "float", minimum=0, maximum=MAX_YUAN),
        Column("categories", "list", enum=Category),
        Column("targets", "list", required=False, default=""),
        Column("co_financing", "float", required=False, minimum=0, maximum=0.95, default=0.0),
        Column("paired", "bool", required=False, default=False),
    ],
    "helpers": [
        Column("helper_id", "id"),
        Column("home_region_id", "ref"),
        Column("kind", "enum", enum=HelperKind),
        Column("capacity", "int", minimum=0, maximum=MAX_COUNT),
        Column("skills", "list", required=False, enum=Skill, default=""),
        Column("reach", "enum", required=False, enum=Reach, default="county"),
        Column("paired", "bool", required=False, default=False),
    ],
}

# "any" in a fund's categories means every category.
ANY_CATEGORY = "any"
