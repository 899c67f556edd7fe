"""Deterministic synthetic instances shaped like China's 2014-2020 poverty registry.

Same arguments give the same tables and byte-identical CSV files: the only randomness is one
``numpy.random.default_rng(seed)`` drawn in a fixed order, and every step is vectorized (one loop per
region level or per catalogue row, never per household).

Shares are approximate published figures of the 2014 registration ("建档立卡") and later reports:
89.6 million poor people in 29.5 million households (about 3.0 persons per household), 128,000 poor
villages, 832 poor counties; illness was the most reported main cause (about 42% of poor households),
followed by lack of capital, lack of skills and lack of labour; roughly a fifth of poor households had
no able-bodied member. The poverty line was 2,300 yuan per person per year at 2010 prices, about
4,000 yuan at 2020 prices; registered incomes lie mostly between 1,500 and the line, with some households
just above it. The synthetic instance is denser than reality (about 2,500 poor households per county
instead of the real 35,000 per poor county) so that small instances still have all six levels.

Money is sized so that budgets bind but are not absurd: about 11,000 yuan per poor household over all six
levels (central 40%, province 20%, city 10%, county 20%, township 5%, village 5%) plus 5% from east-west
paired assistance, which covers roughly 55-70% of what every household's best plan would cost.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .contract import (
    ANY_CATEGORY,
    LIST_SEP,
    TABLES,
    Batch,
    Category,
    Cause,
    Effect,
    Guarantee,
    HelperKind,
    IncomeKind,
    Level,
    ProjectKind,
    Reach,
    Skill,
)
from .errors import InputError
from .outputs import MANIFEST, atomic_write_text, replace_dir
from .partitioned import SPLIT_TABLES, WHOLE_TABLES, is_partitioned, partition_dir
from .structured import Laminar

# ---------------------------------------------------------------------------------------------------------------
# Region tree
# ---------------------------------------------------------------------------------------------------------------
HOUSEHOLDS_PER_VILLAGE = 50  # poor households per village, on average
HOUSEHOLDS_PER_COUNTY = 2500  # poor households per county, on average (big instances)
MIN_COUNTIES = 3  # per province, when it has at least 4 villages per county
CITY_CHOICES = (3, 4, 5)  # prefecture-cities per province (when the province's counties allow)
CITY_SHARES = (0.5, 0.3, 0.2)
COUNTIES_PER_CITY = (2, 4)  # kept when the number of counties allows
TOWNSHIPS_PER_COUNTY = (4, 8)
VILLAGE_MIN_HOUSEHOLDS = 10
SPREAD = {  # gamma shape of the weights that split a total among parts (larger = more even)
    "province": 6.0,
    "county": 5.0,
    "city": 8.0,
    "township": 3.0,
    "village": 6.0,
}
WESTERN_PATTERN = (1, 1, 1, 0, 0)  # provinces 1, 2, 3 of every five are western (60%); a single province is western
POOR_VILLAGE_RATE = 0.60
POOR_SHARE_OF_RURAL = {True: (0.20, 0.40), False: (0.10, 0.20)}  # poor households / all households of the village
VILLAGE_FLAG_RATES = {  # flag: (rate in poor villages, rate elsewhere); road..internet = 1 means the service is lacking
    "road": (0.27, 0.09),  # about 20% overall
    "water": (0.20, 0.075),  # about 15%
    "power": (0.07, 0.02),  # about 5%
    "internet": (0.50, 0.25),  # about 40%
    "ecological_zone": (0.35, 0.225),  # about 30%
    "relocation_zone": (0.14, 0.04),  # about 10%: harsh environment, "one side's land cannot feed its people"
    "old_revolutionary_base": (0.18, 0.105),  # about 15%
}
ID_LETTERS = {Level.PROVINCE: "P", Level.CITY: "C", Level.COUNTY: "X", Level.TOWNSHIP: "T", Level.VILLAGE: "V"}
ID_MIN_WIDTH = {Level.PROVINCE: 2, Level.CITY: 2, Level.COUNTY: 2, Level.TOWNSHIP: 2, Level.VILLAGE: 3}
LEVEL_TITLES = {Level.PROVINCE: "Province", Level.CITY: "City", Level.COUNTY: "County", Level.TOWNSHIP: "Township", Level.VILLAGE: "Village"}
ROOT_ID = "CN"
ROOT_NAME = "Central government"
PARTNER_LETTER = "E"  # eastern partner province of east-west paired assistance
PARTNER_TITLE = "Eastern partner"


@dataclass(frozen=True)
class TreeShape:
    """How households are grouped into regions: averages per village and county, counts per parent."""

    households_per_village: int = HOUSEHOLDS_PER_VILLAGE
    households_per_county: int = HOUSEHOLDS_PER_COUNTY
    min_counties: int = MIN_COUNTIES
    city_choices: tuple[int, ...] = CITY_CHOICES
    city_shares: tuple[float, ...] = CITY_SHARES
    counties_per_city: tuple[int, int] = COUNTIES_PER_CITY
    townships_per_county: tuple[int, int] = TOWNSHIPS_PER_COUNTY


COMPACT = TreeShape()  # small instances that still have all six levels (data/sample, tests)
# the national scale: with 30 million households and 31 provinces about 330 cities, 2,800 counties,
# 39,000 townships and 500,000 villages (real counties are larger; villages hold 60 registered households)
NATIONAL = TreeShape(
    households_per_village=60,
    households_per_county=10_700,
    city_choices=(9, 10, 11, 12),
    city_shares=(0.2, 0.3, 0.3, 0.2),
    counties_per_city=(4, 14),
    townships_per_county=(10, 18),
)
NATIONAL_HOUSEHOLDS = 30_000_000
NATIONAL_PROVINCES = 31

# ---------------------------------------------------------------------------------------------------------------
# Households
# ---------------------------------------------------------------------------------------------------------------
CAUSE_SHARES = {  # main registered cause; illness the most common (about 42%)
    Cause.ILLNESS: 0.42,
    Cause.LACK_OF_CAPITAL: 0.17,
    Cause.LACK_OF_SKILLS: 0.13,
    Cause.LACK_OF_LABOUR: 0.10,
    Cause.DISABILITY: 0.06,
    Cause.EDUCATION_BURDEN: 0.05,
    Cause.DISASTER: 0.04,
    Cause.HARSH_ENVIRONMENT: 0.03,
}
HARSH_SHARE = {True: 0.20, False: 0.012}  # harsh_environment share in relocation-zone villages / elsewhere (about 3% overall)
ELDERLY_BY_CAUSE = {Cause.LACK_OF_LABOUR: 0.55, Cause.ILLNESS: 0.15, Cause.DISABILITY: 0.12, Cause.EDUCATION_BURDEN: 0.0}
ELDERLY_OTHER = 0.08  # elderly-only share for the other causes (about 15% overall)
ELDERLY_SIZE_SHARES = (0.55, 0.45)  # sizes 1, 2
SIZE_SHARES = (0.12, 0.21, 0.25, 0.21, 0.12, 0.05, 0.03, 0.01)  # sizes 1..8 of other households (mean 3.0 overall)
ELDERLY_NO_LABOUR = 0.85  # elderly-only households without able-bodied member
NO_LABOUR_BY_CAUSE = {Cause.LACK_OF_LABOUR: 1.0, Cause.DISABILITY: 0.25, Cause.ILLNESS: 0.03}
NO_LABOUR_OTHER = 0.01  # about 20% of households have no labour overall
LABOUR_SHARES = (0.45, 0.45, 0.10)  # 1, 2, 3 able-bodied members (capped by size minus children)
SCHOOL_CHILD_RATE = 0.45  # of non-elderly households of 2+ persons (about 35% of all households)
CHILDREN_SHARES = (0.55, 0.35, 0.10)  # 1, 2, 3 school children (capped by size - 1)
INCOME_MEDIAN = {True: 2900.0, False: 2450.0}  # yuan per person: with labour / without
INCOME_SIGMA = 0.30  # log-normal: most between 1,500 and 4,200, about 12% just above the line
INCOME_FACTOR_POOR_VILLAGE = 0.95
INCOME_CLIP = (600.0, 5600.0)
UNSAFE_HOUSE_RATE = {True: 0.18, False: 0.105}  # poor village / other (about 15%)
UNSAFE_HOUSE_HARSH = 0.30
CHRONIC_OTHER = {True: 0.10, False: 0.03}  # chronic illness besides the illness cause: elderly / other
DISABLED_OTHER = {True: 0.20, False: 0.08}  # disabled besides the disability cause: elderly / other (about 15% overall)
IN_ZONE_RATE = 0.95  # households of a relocation or ecological zone village that live in the zone
HARSH_SCATTERED_RELOCATION = 0.50  # harsh-environment households outside zone villages flagged for relocation

# ---------------------------------------------------------------------------------------------------------------
# Measures catalogue (fixed): yuan; uplift is per person per year
# ---------------------------------------------------------------------------------------------------------------
# measure_id: (name, batch, category, cost_fixed, cost_per_person, income_uplift, income_kind, covers, eligibility)
MEASURES: dict[str, tuple[str, Batch, Category, float, float, float, IncomeKind, tuple[Guarantee, ...], str]] = {
    "industry": ("Industry support (seedlings, livestock, cooperative shares)", Batch.PRODUCTION, Category.INDUSTRY,
                 5000.0, 1000.0, 1400.0, IncomeKind.WORK, (), "labour_min:1"),
    "employment": ("Employment transfer and vocational training", Batch.PRODUCTION, Category.INDUSTRY,
                   3000.0, 0.0, 2000.0, IncomeKind.WORK, (), "labour_min:1"),
    "tourism_job": ("Job in a village rural-tourism project", Batch.PRODUCTION, Category.INDUSTRY,
                    1500.0, 0.0, 2500.0, IncomeKind.WORK, (), "labour_min:1;requires_project:industry_tourism"),
    "pv_dividend": ("Photovoltaic / collective-asset dividend", Batch.PRODUCTION, Category.INDUSTRY,
                    4000.0, 0.0, 600.0, IncomeKind.TRANSFER, (), ""),
    "relocation": ("Relocation from inhospitable areas", Batch.RELOCATION, Category.RELOCATION,
                   10000.0, 20000.0, 1200.0, IncomeKind.WORK, (Guarantee.HOUSING,), "requires_flag:in_relocation_zone"),
    "forest_ranger": ("Ecological forest-ranger post", Batch.ECOLOGICAL, Category.ECOLOGICAL,
                      1000.0, 1000.0, 1000.0, IncomeKind.WORK, (), "labour_min:1;requires_flag:in_ecological_zone"),
    "eco_compensation": ("Ecological compensation payment", Batch.ECOLOGICAL, Category.ECOLOGICAL,
                         0.0, 315.0, 300.0, IncomeKind.TRANSFER, (), "requires_flag:in_ecological_zone"),
    "education": ("Education subsidy (compulsory to vocational school)", Batch.EDUCATION, Category.EDUCATION,
                  2500.0, 0.0, 0.0, IncomeKind.TRANSFER, (Guarantee.EDUCATION,), "min:school_children=1"),
    "dibao": ("Minimum living guarantee (dibao)", Batch.SOCIAL_SECURITY, Category.GUARANTEE,
              0.0, 1890.0, 1800.0, IncomeKind.TRANSFER, (Guarantee.LIVING,), ""),
    "medical": ("Medical assistance and serious-illness insurance", Batch.SOCIAL_SECURITY, Category.GUARANTEE,
                3000.0, 0.0, 500.0, IncomeKind.TRANSFER, (Guarantee.MEDICAL,), "requires_flag:chronic_illness"),
    "renovation": ("Dangerous-house renovation", Batch.SOCIAL_SECURITY, Category.HOUSING,
                   25000.0, 0.0, 0.0, IncomeKind.TRANSFER, (Guarantee.HOUSING,), "requires_flag:unsafe_house"),
}
INCOME_MEASURES = ("industry", "employment", "tourism_job", "pv_dividend", "forest_ranger", "eco_compensation", "dibao")
COMPLEMENTS: tuple[tuple[str, str], ...] = (  # unordered pairs; combines_with is derived from them, so it is symmetric
    ("industry", "employment"),  # industry support plus training / off-farm work
    ("industry", "pv_dividend"),
    ("industry", "eco_compensation"),
    ("employment", "eco_compensation"),
    ("relocation", "employment"),  # relocation plus a job at the resettlement site
    ("relocation", "industry"),
    ("relocation", "dibao"),
    ("relocation", "medical"),
    ("forest_ranger", "eco_compensation"),
    ("dibao", "medical"),
    ("dibao", "pv_dividend"),
    ("dibao", "eco_compensation"),
    *(("medical", m) for m in ("industry", "employment", "tourism_job", "pv_dividend", "forest_ranger", "eco_compensation")),
    *(("renovation", m) for m in (*INCOME_MEASURES, "medical")),  # safe house plus any income measure
    *(("education", m) for m in MEASURES if m != "education"),  # education combines with anything
)

# ---------------------------------------------------------------------------------------------------------------
# Village projects
# ---------------------------------------------------------------------------------------------------------------
# kind: (category, measure, effect, uplift bonus range (yuan/person, step 100), cost range (yuan), capacity range or None = village)
PROJECTS: dict[ProjectKind, tuple[Category, str, Effect, tuple[int, int], tuple[float, float], tuple[int, int] | None]] = {
    ProjectKind.INFRASTRUCTURE: (Category.INFRASTRUCTURE, "industry", Effect.BOOST, (400, 800), (300_000.0, 1_500_000.0), None),
    ProjectKind.INDUSTRY_TOURISM: (Category.INDUSTRY, "tourism_job", Effect.ENABLE, (0, 0), (200_000.0, 800_000.0), (10, 30)),
    ProjectKind.NEW_VILLAGE: (Category.HOUSING, "relocation", Effect.BOOST, (500, 500), (300_000.0, 1_000_000.0), (20, 60)),
    ProjectKind.TRAINING: (Category.INDUSTRY, "employment", Effect.BOOST, (500, 500), (50_000.0, 150_000.0), (30, 80)),
    ProjectKind.ECOLOGY: (Category.ECOLOGICAL, "forest_ranger", Effect.BOOST, (300, 300), (100_000.0, 400_000.0), (10, 40)),
}
PROJECT_CHANCE = {  # chance that a village has a candidate project of the kind: (village qualifies, otherwise)
    ProjectKind.INFRASTRUCTURE: (0.75, 0.05),  # qualifies: some infrastructure lacking
    ProjectKind.INDUSTRY_TOURISM: (0.45, 0.25),  # qualifies: old revolutionary base ("red tourism")
    ProjectKind.NEW_VILLAGE: (0.80, 0.0),  # qualifies: relocation zone
    ProjectKind.TRAINING: (0.30, 0.30),
    ProjectKind.ECOLOGY: (0.50, 0.0),  # qualifies: ecological zone
}
MAX_PROJECTS_PER_VILLAGE = 3
COST_STEP = 1000.0  # project costs rounded to 1,000 yuan

# ---------------------------------------------------------------------------------------------------------------
# Funds
# ---------------------------------------------------------------------------------------------------------------
MONEY_PER_HOUSEHOLD = 11_000.0  # yuan over all six levels
LEVEL_SHARE = {Level.CENTRAL: 0.40, Level.PROVINCE: 0.20, Level.CITY: 0.10, Level.COUNTY: 0.20, Level.TOWNSHIP: 0.05, Level.VILLAGE: 0.05}
PAIRED_SHARE = 0.05  # east-west paired assistance, on top
LEVEL_NOISE = (0.8, 1.2)  # money per region ~ poor households below it x uniform noise
CENTRAL_EARMARKS = {  # category: (share of the central money, co-financing: the fund pays at most 1 - this of a spending cell)
    Category.INDUSTRY: (0.26, 0.2),
    Category.GUARANTEE: (0.20, 0.0),
    Category.HOUSING: (0.16, 0.0),
    Category.RELOCATION: (0.14, 0.0),
    Category.EDUCATION: (0.10, 0.0),
    Category.INFRASTRUCTURE: (0.08, 0.2),
    Category.ECOLOGICAL: (0.06, 0.0),
}
PROVINCE_GENERAL_SHARE = 0.6  # the rest is split over 1-2 earmarked funds
PROVINCE_EARMARKS = (Category.GUARANTEE, Category.EDUCATION, Category.HOUSING, Category.INDUSTRY, Category.RELOCATION)
CITY_EARMARK = (Category.INDUSTRY, 0.5, 0.3)  # category, chance a city has it, its share of the city's money
COUNTY_EARMARKS = (Category.HOUSING, Category.RELOCATION, Category.INDUSTRY)
COUNTY_EARMARK_CHANCE, COUNTY_EARMARK_SHARE = 0.5, 0.2
VILLAGE_FUND_CHANCE = 0.75  # villages with a collective fund (the others have none)
PAIRED_CATEGORIES = (Category.INDUSTRY, Category.EDUCATION, Category.INFRASTRUCTURE)
PAIRED_COUNTY_SHARE = 0.6  # counties of the province that the eastern partner pairs with

# ---------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------
HELPER_CAPACITY = (3, 8)
HELPER_COVER = (0.71, 1.11)  # household-helper capacity / poor households, per township (others add about 7%)
HELPER_HOME_SHARES = {Level.TOWNSHIP: 0.55, Level.COUNTY: 0.30, Level.CITY: 0.10, Level.PROVINCE: 0.05}
SECRETARY_HOME_SHARES = {Level.COUNTY: 0.70, Level.CITY: 0.20, Level.PROVINCE: 0.10}
SECRETARIES_PER_POOR_VILLAGE = (1, 2)
WORK_TEAM_CHANCE = 0.5  # poor villages with a work-team member (home: the village's township)
WORK_TEAM_CAPACITY = (5, 10)
PAIRED_HELPERS_PER_COUNTY = (1, 3)  # eastern cadres seconded to each paired county
SKILL_WEIGHTS = {
    Skill.AGRICULTURE: 0.25,
    Skill.EMPLOYMENT: 0.20,
    Skill.HEALTH: 0.15,
    Skill.EDUCATION: 0.15,
    Skill.CONSTRUCTION: 0.10,
    Skill.SOCIAL_WORK: 0.15,
}

# rounding of written values
MONEY_DECIMALS = 2
INCOME_DECIMALS = 1


def generate(households: int, seed: int = 0, provinces: int = 1, out: Path | None = None) -> dict[str, pd.DataFrame]:
    """Generate the six input tables (columns as in ``contract.TABLES``); write ``out/<table>.csv`` when given.

    Same arguments, same tables and bytes. Ids are strings, flags 0/1, lists ``;``-joined, enums their values.
    """
    if provinces < 1:
        raise ValueError("provinces must be at least 1")
    if households < provinces:
        raise ValueError(f"households ({households}) must be at least the number of provinces ({provinces})")
    rng = np.random.default_rng(seed)
    tree = _Tree.build(households, provinces, rng)
    hh = _households(tree, rng)
    tables = {
        "regions": tree.table(),
        "households": hh,
        "measures": measures_table(),
        "projects": _projects(tree, rng),
    }
    paired = _paired_counties(tree, rng)
    tables |= {
        "funds": _funds(tree, paired, rng),
        "helpers": _helpers(tree, paired, rng),
    }
    tables = {name: df[[c.name for c in TABLES[name]]].reset_index(drop=True) for name, df in tables.items()}
    if out is not None:
        write_tables(tables, Path(out))
    return tables


def write_tables(tables: dict[str, pd.DataFrame], out: Path) -> None:
    """Write each table as ``out/<name>.csv`` atomically: a temporary file in ``out``, flushed, then renamed.

    A reader sees either the previous file or the complete new one, never a partial write. A run folder or a
    partitioned instance is refused: tables of the same names there are results, or would sit beside Parquet.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or (out / MANIFEST).is_file() or is_partitioned(out)):
        what = "a run folder" if (out / MANIFEST).is_file() else "a partitioned instance" if out.is_dir() else "a file"
        raise InputError(f"{out}: is {what}; refusing to write input tables into it, choose another folder")
    beside = sorted(f"{name}.parquet" for name in tables if (out / f"{name}.parquet").exists())
    if beside:  # a CSV beside its Parquet twin makes the folder unreadable (which one is meant?)
        raise InputError(f"{out}: holds {', '.join(beside)}; the CSV tables written beside them would make the folder unreadable, choose another folder")
    for name, df in tables.items():
        atomic_write_text(out / f"{name}.csv", df.to_csv(index=False, lineterminator="\n"))


def generate_partitioned(
    households: int,
    out: Path,
    seed: int = 0,
    provinces: int = 1,
    shape: TreeShape | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Stream an instance to partitioned Parquet in ``out`` without holding all households in memory.

    The region tree, the funds and the measures are built in memory (about 540,000 regions at national
    scale); households, projects and helpers are then generated county by county, each county from its own
    random stream (``SeedSequence(seed).spawn``), and written as
    ``<table>/province=<id>/county=<id>/part-0.parquet``. ``regions.parquet`` carries extra ``province``,
    ``city`` and ``county`` columns (the region's ancestors) so that a reader can take one county's subtree.
    Same arguments, same bytes; the folder is replaced atomically (one that holds anything else is refused).
    Returns the row count of every table.
    This is another random stream than :func:`generate`: the same seed gives a different instance."""
    if provinces < 1:
        raise ValueError("provinces must be at least 1")
    if households < provinces:
        raise ValueError(f"households ({households}) must be at least the number of provinces ({provinces})")
    out = Path(out)
    _check_partitioned_target(out)
    say = progress or (lambda msg: None)
    tree, paired, whole, county_seq = _national(households, seed, provinces, shape)
    whole["regions"] = pd.concat([whole["regions"], pd.DataFrame(_ancestor_columns(tree))], axis=1)
    n_counties, n_villages = len(tree.ids[Level.COUNTY]), len(tree.ids[Level.VILLAGE])
    say(f"tree: {len(tree.ids[Level.CITY]):,} cities, {n_counties:,} counties, {len(tree.ids[Level.TOWNSHIP]):,} townships, {n_villages:,} villages")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    try:
        for name, df in whole.items():
            _write_parquet(df, tmp / f"{name}.parquet")
        counts = {name: len(df) for name, df in whole.items()} | dict.fromkeys(SPLIT_TABLES, 0)
        # id widths fixed in advance from upper bounds, so that every county writes ids of the same width
        helpers_bound = int(households * HELPER_COVER[1] / HELPER_CAPACITY[0]) + len(tree.ids[Level.TOWNSHIP]) + 3 * (n_villages + n_counties)
        widths = {
            "households": max(7, len(str(households))),
            "projects": max(6, len(str(MAX_PROJECTS_PER_VILLAGE * n_villages))),
            "helpers": max(6, len(str(helpers_bound))),
        }
        is_paired = np.zeros(n_counties, dtype=bool)
        is_paired[np.concatenate(paired)] = True
        province = tree.ids[Level.PROVINCE][tree.up(Level.COUNTY, Level.PROVINCE)]
        for c, stream in enumerate(county_seq.spawn(n_counties)):
            sub, crng = tree.county(c), np.random.default_rng(stream)
            tables = {
                "households": _households(sub, crng, first=counts["households"] + 1, width=widths["households"]),
                "projects": _projects(sub, crng, first=counts["projects"] + 1, width=widths["projects"]),
                "helpers": _helpers(sub, [np.zeros(int(is_paired[c]), dtype=np.int64)], crng, first=counts["helpers"] + 1, width=widths["helpers"]),
            }
            part = partition_dir(province[c], tree.ids[Level.COUNTY][c])
            for name, df in tables.items():
                _write_parquet(df[[col.name for col in TABLES[name]]].reset_index(drop=True), tmp / name / part / "part-0.parquet")
                counts[name] += len(df)
            if (c + 1) % 200 == 0 or c + 1 == n_counties:
                say(f"{c + 1:,}/{n_counties:,} counties, {counts['households']:,} households")
        replace_dir(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return counts


def regions_and_funds(households: int, seed: int = 0, provinces: int = 1, shape: TreeShape | None = None) -> tuple[dict[str, pd.DataFrame], pd.Series]:
    """The regions, measures and funds tables of :func:`generate_partitioned`'s instance of the same arguments
    (the same rows) and its poor households per county, without generating the households, projects and helpers:
    what a benchmark of the decomposition's master, which shares the upper funds among the counties, needs at
    national scale (seconds for 30 million households)."""
    tree, _, whole, _ = _national(households, seed, provinces, shape)
    return whole, pd.Series(tree.hh[Level.COUNTY], index=tree.ids[Level.COUNTY], name="households")


def _national(
    households: int, seed: int, provinces: int, shape: TreeShape | None
) -> tuple[_Tree, list[np.ndarray], dict[str, pd.DataFrame], np.random.SeedSequence]:
    """The region tree, the paired counties and the whole (unpartitioned) tables of a partitioned instance, and the
    seed sequence its counties' streams are spawned from."""
    tree_seq, county_seq = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(tree_seq)
    tree = _Tree.build(households, provinces, rng, shape or COMPACT)
    paired = _paired_counties(tree, rng)
    whole = {"regions": tree.table(), "measures": measures_table(), "funds": _funds(tree, paired, rng)}
    return tree, paired, {name: df[[c.name for c in TABLES[name]]].reset_index(drop=True) for name, df in whole.items()}, county_seq


def _check_partitioned_target(out: Path) -> None:
    """Refuse to replace ``out`` when it exists and is neither empty nor (a part of) a partitioned instance: the
    folder is replaced whole, and what else it held would be lost."""
    if not out.exists():
        return
    ours = {f"{name}.parquet" for name in WHOLE_TABLES} | set(SPLIT_TABLES)
    other = sorted(p.name for p in out.iterdir() if p.name not in ours) if out.is_dir() else [out.name]
    if other:
        held = ", ".join(other[:5]) + (", ..." if len(other) > 5 else "")
        raise InputError(f"{out}: exists and is not a partitioned instance (it holds {held}); refusing to replace it, choose another folder")


PARQUET_ROW_GROUP = 16_384  # rows per row group: a reader filtering on a county skips most of a national table


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=PARQUET_ROW_GROUP)


def _ancestor_columns(tree: _Tree) -> dict[str, np.ndarray]:
    """Province, city and county id of every row of :meth:`_Tree.table` (empty above the region's level)."""
    cols: dict[str, list[np.ndarray]] = {"province": [], "city": [], "county": []}
    lv_of = {"province": Level.PROVINCE, "city": Level.CITY, "county": Level.COUNTY}
    order = [Level.CENTRAL, Level.PROVINCE, None, Level.CITY, Level.COUNTY, Level.TOWNSHIP, Level.VILLAGE]  # None: partners
    for level in order:
        k = len(tree.partners) if level is None else len(tree.ids[level])
        for name, up in lv_of.items():
            if level is None or level < up:
                cols[name].append(np.full(k, "", dtype=object))
            else:
                cols[name].append(tree.ids[up][tree.up(level, up)].astype(object))
    return {name: np.concatenate(parts) for name, parts in cols.items()}


def measures_table() -> pd.DataFrame:
    """The fixed measures catalogue; ``combines_with`` is derived from :data:`COMPLEMENTS` (hence symmetric)."""
    ids = list(MEASURES)
    partners: dict[str, set[str]] = {m: set() for m in ids}
    for a, b in COMPLEMENTS:
        partners[a].add(b)
        partners[b].add(a)
    rows = [
        {
            "measure_id": mid,
            "name": name,
            "batch": batch.value,
            "category": category.value,
            "cost_fixed": fixed,
            "cost_per_person": per_person,
            "income_uplift": uplift,
            "income_kind": kind.value,
            "covers": LIST_SEP.join(g.value for g in covers),
            "eligibility": eligibility,
            "combines_with": LIST_SEP.join(m for m in ids if m in partners[mid]),  # catalogue order
        }
        for mid, (name, batch, category, fixed, per_person, uplift, kind, covers, eligibility) in MEASURES.items()
    ]
    return pd.DataFrame(rows, columns=[c.name for c in TABLES["measures"]])


# ---------------------------------------------------------------------------------------------------------------
# Region tree
# ---------------------------------------------------------------------------------------------------------------


class _Tree:
    """The generated region tree as arrays per level (index positions, not ids, link the levels)."""

    def __init__(self) -> None:
        self.ids: dict[Level, np.ndarray] = {}
        self.parent: dict[Level, np.ndarray] = {}  # position of the parent in the level above
        self.hh: dict[Level, np.ndarray] = {}  # poor households in each region's subtree
        self.partners = np.empty(0, dtype=str)
        self.village_flags: dict[str, np.ndarray] = {}
        self.rural = np.empty(0, dtype=np.int64)
        self.western = np.empty(0, dtype=bool)  # per province

    @classmethod
    def build(cls, n: int, provinces: int, rng: np.random.Generator, shape: TreeShape | None = None) -> _Tree:
        """Split ``n`` households top-down: provinces, counties (by size), cities, townships, villages."""
        sh = shape or COMPACT
        t = cls()
        one = np.ones(1, dtype=np.int64)
        n_prov = _split(np.array([n]), np.array([provinces]), one, SPREAD["province"], rng)
        # counties per province scale with households; never more than the province's villages
        v_prov = np.maximum(1, np.rint(n_prov / sh.households_per_village)).astype(np.int64)
        c_prov = np.maximum(np.rint(n_prov / sh.households_per_county), np.minimum(sh.min_counties, v_prov // 4))
        c_prov = np.clip(c_prov, 1, v_prov).astype(np.int64)
        # cities: 3-5 when that keeps 2-4 counties per city; more cities for big provinces, fewer for tiny ones
        lo = -(-c_prov // sh.counties_per_city[1])
        hi = np.maximum(lo, c_prov // sh.counties_per_city[0])
        k_prov = np.clip(rng.choice(np.array(sh.city_choices), size=provinces, p=np.array(sh.city_shares)), lo, hi)
        # households per county (the county is the sizing unit), then counties per city
        n_county = _split(n_prov, c_prov, np.minimum(sh.households_per_village, n_prov // c_prov), SPREAD["county"], rng)
        c_city = _split(c_prov, k_prov, np.minimum(sh.counties_per_city[0], c_prov // k_prov), SPREAD["city"], rng)
        v_county = np.maximum(1, np.rint(n_county / sh.households_per_village)).astype(np.int64)
        t_county = np.minimum(rng.integers(sh.townships_per_county[0], sh.townships_per_county[1] + 1, size=len(n_county)), v_county)
        v_town = _split(v_county, t_county, np.ones_like(v_county), SPREAD["township"], rng)
        n_village = _split(n_county, v_county, np.minimum(VILLAGE_MIN_HOUSEHOLDS, n_county // v_county), SPREAD["village"], rng)

        counts = {Level.PROVINCE: np.array([provinces]), Level.CITY: k_prov, Level.COUNTY: c_city, Level.TOWNSHIP: t_county, Level.VILLAGE: v_town}
        parent_ids = np.array([ROOT_ID])
        for level in (Level.PROVINCE, Level.CITY, Level.COUNTY, Level.TOWNSHIP, Level.VILLAGE):
            ids, parent = _child_ids(parent_ids, counts[level], ID_LETTERS[level], ID_MIN_WIDTH[level], root=level == Level.PROVINCE)
            t.ids[level], t.parent[level] = ids, parent
            parent_ids = ids
        t.ids[Level.CENTRAL], t.parent[Level.CENTRAL] = np.array([ROOT_ID]), np.array([-1])
        t.hh[Level.VILLAGE] = n_village
        for level in (Level.TOWNSHIP, Level.COUNTY, Level.CITY, Level.PROVINCE, Level.CENTRAL):
            below = Level(level + 1)
            t.hh[level] = np.bincount(t.parent[below], weights=t.hh[below], minlength=len(t.ids[level])).astype(np.int64)
        t.partners = _numbered(PARTNER_LETTER, np.arange(1, provinces + 1), ID_MIN_WIDTH[Level.PROVINCE])
        t.western = np.resize(np.array(WESTERN_PATTERN, dtype=bool), provinces)
        t._villages(rng)
        return t

    def _villages(self, rng: np.random.Generator) -> None:
        """Village flags and total rural households (poor villages have more gaps and a higher poor share)."""
        nv = len(self.ids[Level.VILLAGE])
        poor = rng.random(nv) < POOR_VILLAGE_RATE
        flags = {"poor_village": poor}
        for flag, (in_poor, other) in VILLAGE_FLAG_RATES.items():
            flags[flag] = rng.random(nv) < np.where(poor, in_poor, other)
        self.village_flags = flags
        low = np.where(poor, POOR_SHARE_OF_RURAL[True][0], POOR_SHARE_OF_RURAL[False][0])
        high = np.where(poor, POOR_SHARE_OF_RURAL[True][1], POOR_SHARE_OF_RURAL[False][1])
        share = rng.uniform(low, high)
        self.rural = np.ceil(self.hh[Level.VILLAGE] / share).astype(np.int64)

    def county(self, c: int) -> _Tree:
        """County ``c`` alone below its city: the levels above are complete (ids, parents), the county,
        its townships and its villages are the only ones below (positions renumbered from 0)."""
        sub = _Tree()
        towns = np.searchsorted(self.parent[Level.TOWNSHIP], [c, c + 1])
        villages = np.searchsorted(self.parent[Level.VILLAGE], towns)
        t_sl, v_sl = slice(*towns), slice(*villages)
        for level in (Level.CENTRAL, Level.PROVINCE, Level.CITY):
            sub.ids[level], sub.parent[level], sub.hh[level] = self.ids[level], self.parent[level], self.hh[level]
        sub.ids[Level.COUNTY], sub.parent[Level.COUNTY] = self.ids[Level.COUNTY][c : c + 1], self.parent[Level.COUNTY][c : c + 1]
        sub.hh[Level.COUNTY] = self.hh[Level.COUNTY][c : c + 1]
        sub.ids[Level.TOWNSHIP], sub.hh[Level.TOWNSHIP] = self.ids[Level.TOWNSHIP][t_sl], self.hh[Level.TOWNSHIP][t_sl]
        sub.parent[Level.TOWNSHIP] = np.zeros(towns[1] - towns[0], dtype=np.int64)
        sub.ids[Level.VILLAGE], sub.hh[Level.VILLAGE] = self.ids[Level.VILLAGE][v_sl], self.hh[Level.VILLAGE][v_sl]
        sub.parent[Level.VILLAGE] = self.parent[Level.VILLAGE][v_sl] - towns[0]
        sub.village_flags = {k: v[v_sl] for k, v in self.village_flags.items()}
        sub.rural = self.rural[v_sl]
        sub.partners, sub.western = self.partners, self.western
        return sub

    def up(self, level: Level, to: Level) -> np.ndarray:
        """For every region of ``level``, the position of its ancestor at level ``to``."""
        pos = np.arange(len(self.ids[level]))
        for lv in range(level, to, -1):
            pos = self.parent[Level(lv)][pos]
        return pos

    def name(self, level: Level) -> np.ndarray:
        """Readable names: "County 01-02-03" from id "P01C02X03"."""
        digits = pd.Series(self.ids[level]).str.replace(r"[A-Z]+", "-", regex=True).str.strip("-")
        return (LEVEL_TITLES[level] + " " + digits).to_numpy(dtype=str)

    def table(self) -> pd.DataFrame:
        """The ``regions`` table: root, provinces, eastern partners, then cities down to villages."""
        prov_of = {lv: self.up(lv, Level.PROVINCE) for lv in (Level.PROVINCE, Level.CITY, Level.COUNTY, Level.TOWNSHIP, Level.VILLAGE)}
        parts = [
            pd.DataFrame({"region_id": [ROOT_ID], "parent_id": [""], "level": [int(Level.CENTRAL)], "name": [ROOT_NAME], "western": [0]}),
            self._level_frame(Level.PROVINCE, prov_of[Level.PROVINCE]),
            pd.DataFrame(
                {
                    "region_id": self.partners,
                    "parent_id": ROOT_ID,
                    "level": int(Level.PROVINCE),
                    "name": np.char.add(PARTNER_TITLE + " ", np.char.lstrip(self.partners, PARTNER_LETTER)),
                    "western": 0,
                }
            ),
            *(self._level_frame(lv, prov_of[lv]) for lv in (Level.CITY, Level.COUNTY, Level.TOWNSHIP)),
        ]
        village = self._level_frame(Level.VILLAGE, prov_of[Level.VILLAGE])
        village["rural_households"] = self.rural
        for flag, values in self.village_flags.items():
            village[flag] = values.astype(np.int64)
        regions = pd.concat([*parts, village], ignore_index=True)
        for col in ("rural_households", "poor_village", *VILLAGE_FLAG_RATES):
            regions[col] = regions[col].fillna(0).astype(np.int64)
        return regions

    def _level_frame(self, level: Level, province: np.ndarray) -> pd.DataFrame:
        above = Level(level - 1)
        return pd.DataFrame(
            {
                "region_id": self.ids[level],
                "parent_id": self.ids[above][self.parent[level]],
                "level": int(level),
                "name": self.name(level),
                "western": self.western[province].astype(np.int64),
            }
        )


def _split(totals: np.ndarray, parts: np.ndarray, minimum: np.ndarray, shape: float, rng: np.random.Generator) -> np.ndarray:
    """Split each ``totals[g]`` into ``parts[g]`` integers >= ``minimum[g]`` with gamma-distributed shares.

    Returns the parts of all groups concatenated in group order; each group sums exactly to its total
    (cumulative rounding, so no remainder bookkeeping and no negative part).
    """
    totals, parts, minimum = (np.asarray(a, dtype=np.int64) for a in (totals, parts, minimum))
    group = np.repeat(np.arange(len(parts)), parts)
    w = rng.gamma(shape, size=len(group))
    rest = (totals - parts * minimum)[group].astype(float)
    start = np.cumsum(parts) - parts
    cw = np.cumsum(w)
    before = np.where(start > 0, cw[np.maximum(start - 1, 0)], 0.0)
    within = cw - before[group]
    total_w = within[np.cumsum(parts) - 1][group]
    cum = np.floor(rest * within / total_w)
    last = np.zeros(len(group), dtype=bool)
    last[np.cumsum(parts) - 1] = True
    cum = np.minimum(np.where(last, rest, cum), rest)
    prev = np.concatenate([[0.0], cum[:-1]])
    prev[start] = 0.0
    return (cum - prev).astype(np.int64) + minimum[group]


def _numbered(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """``prefix`` + zero-padded ``numbers`` (fast: digits built as bytes, no per-item formatting)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    width = max(width, len(str(int(numbers.max()))) if len(numbers) else width)
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    buf = np.empty((len(numbers), len(head) + width), dtype=np.uint8)
    buf[:, : len(head)] = head
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    buf[:, len(head) :] = (numbers[:, None] // powers[None, :]) % 10 + ord("0")
    return buf.view(f"S{buf.shape[1]}").ravel().astype(str)


def _child_ids(parent_ids: np.ndarray, counts: np.ndarray, letter: str, min_width: int, root: bool) -> tuple[np.ndarray, np.ndarray]:
    """Ids ``<parent><letter><n>`` for ``counts[i]`` children of each parent (no parent prefix below the root)."""
    counts = np.asarray(counts, dtype=np.int64)
    parent = np.repeat(np.arange(len(counts)), counts)
    number = np.arange(len(parent)) - (np.cumsum(counts) - counts)[parent] + 1
    width = max(min_width, len(str(int(counts.max()))))
    own = _numbered(letter, number, width)
    ids = own if root else np.char.add(parent_ids[parent], own)
    return ids, parent


# ---------------------------------------------------------------------------------------------------------------
# Households
# ---------------------------------------------------------------------------------------------------------------


def _draw(shares: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Category index for uniforms ``u`` given (possibly per-row) shares (last axis)."""
    cum = np.cumsum(shares, axis=-1)
    cum = cum / cum[..., -1:]
    if cum.ndim == 1:
        return np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)
    return np.minimum((u[:, None] >= cum).sum(axis=1), cum.shape[1] - 1)


def _households(tree: _Tree, rng: np.random.Generator, first: int = 1, width: int = 7) -> pd.DataFrame:
    """Poor households, village by village; cause first, then the attributes that must agree with it.
    Ids count from ``first`` with at least ``width`` digits."""
    per_village = tree.hh[Level.VILLAGE]
    n = int(per_village.sum())
    v = np.repeat(np.arange(len(per_village)), per_village)
    flags = tree.village_flags
    reloc_v, eco_v, poor_v = flags["relocation_zone"][v], flags["ecological_zone"][v], flags["poor_village"][v]

    # main cause: harsh environment concentrated in relocation-zone villages
    causes = list(CAUSE_SHARES)
    harsh = causes.index(Cause.HARSH_ENVIRONMENT)
    base = np.array(list(CAUSE_SHARES.values()))
    shares = {}
    for zone in (True, False):
        s = base.copy()
        s[harsh] = 0.0
        s = s / s.sum() * (1.0 - HARSH_SHARE[zone])
        s[harsh] = HARSH_SHARE[zone]
        shares[zone] = s
    u = rng.random(n)
    cause_idx = np.where(reloc_v, _draw(shares[True], u), _draw(shares[False], u))
    cause_values = np.array([c.value for c in causes])
    cause = cause_values[cause_idx]
    is_cause = {c: cause_idx == i for i, c in enumerate(causes)}

    # elderly-only households (mostly no labour, 1-2 persons, no school children)
    p_elderly = np.full(n, ELDERLY_OTHER)
    for c, share in ELDERLY_BY_CAUSE.items():
        p_elderly[is_cause[c]] = share
    elderly = rng.random(n) < p_elderly
    size_elderly = _draw(np.array(ELDERLY_SIZE_SHARES), rng.random(n)) + 1
    size_other = _draw(np.array(SIZE_SHARES), rng.random(n)) + 1
    size = np.where(elderly, size_elderly, size_other)
    size = np.where(is_cause[Cause.EDUCATION_BURDEN], np.maximum(size, 2), size)

    kids = np.where(rng.random(n) < SCHOOL_CHILD_RATE, _draw(np.array(CHILDREN_SHARES), rng.random(n)) + 1, 0)
    kids = np.where(is_cause[Cause.EDUCATION_BURDEN], np.maximum(kids, 1), kids)
    kids = np.where(elderly, 0, np.minimum(kids, size - 1))

    p_no_labour = np.full(n, NO_LABOUR_OTHER)
    for c, share in NO_LABOUR_BY_CAUSE.items():
        p_no_labour[is_cause[c]] = share
    p_no_labour = np.where(elderly, ELDERLY_NO_LABOUR, p_no_labour)
    no_labour = (rng.random(n) < p_no_labour) | is_cause[Cause.LACK_OF_LABOUR]
    able = _draw(np.array(LABOUR_SHARES), rng.random(n)) + 1
    labour = np.where(no_labour, 0, np.minimum(able, size - kids))

    # income per person: log-normal around the line, lower without labour and in poor villages
    median = np.where(no_labour, INCOME_MEDIAN[False], INCOME_MEDIAN[True]) * np.where(poor_v, INCOME_FACTOR_POOR_VILLAGE, 1.0)
    income = np.clip(median * np.exp(rng.normal(0.0, INCOME_SIGMA, n)), *INCOME_CLIP)

    is_harsh = is_cause[Cause.HARSH_ENVIRONMENT]
    unsafe = rng.random(n) < np.where(is_harsh, UNSAFE_HOUSE_HARSH, np.where(poor_v, UNSAFE_HOUSE_RATE[True], UNSAFE_HOUSE_RATE[False]))
    chronic = is_cause[Cause.ILLNESS] | (rng.random(n) < np.where(elderly, CHRONIC_OTHER[True], CHRONIC_OTHER[False]))
    disabled = is_cause[Cause.DISABILITY] | (rng.random(n) < np.where(elderly, DISABLED_OTHER[True], DISABLED_OTHER[False]))
    in_zone = rng.random(n) < IN_ZONE_RATE
    in_relocation = (reloc_v & (in_zone | is_harsh)) | (~reloc_v & is_harsh & (rng.random(n) < HARSH_SCATTERED_RELOCATION))
    in_ecological = eco_v & (rng.random(n) < IN_ZONE_RATE)

    return pd.DataFrame(
        {
            "household_id": _numbered("H", np.arange(first, first + n), width),
            "village_id": tree.ids[Level.VILLAGE][v],
            "size": size.astype(np.int64),
            "income_per_capita": income.round(INCOME_DECIMALS),
            "labour": labour.astype(np.int64),
            "school_children": kids.astype(np.int64),
            "unsafe_house": unsafe.astype(np.int64),
            "chronic_illness": chronic.astype(np.int64),
            "disabled": disabled.astype(np.int64),
            "elderly_only": elderly.astype(np.int64),
            "in_relocation_zone": in_relocation.astype(np.int64),
            "in_ecological_zone": in_ecological.astype(np.int64),
            "cause": cause,
        }
    )


# ---------------------------------------------------------------------------------------------------------------
# Projects
# ---------------------------------------------------------------------------------------------------------------


def _projects(tree: _Tree, rng: np.random.Generator, first: int = 1, width: int = 6) -> pd.DataFrame:
    """0-3 candidate projects per village, each tied to a need of the village (gaps, zones, tourism assets).
    Ids count from ``first`` with at least ``width`` digits."""
    f = tree.village_flags
    nv = len(tree.ids[Level.VILLAGE])
    qualifies = {
        ProjectKind.INFRASTRUCTURE: f["road"] | f["water"] | f["power"] | f["internet"],
        ProjectKind.INDUSTRY_TOURISM: f["old_revolutionary_base"],
        ProjectKind.NEW_VILLAGE: f["relocation_zone"],
        ProjectKind.TRAINING: np.ones(nv, dtype=bool),
        ProjectKind.ECOLOGY: f["ecological_zone"],
    }
    village_hh = tree.hh[Level.VILLAGE]
    parts = []
    for order, (kind, (category, measure, effect, bonus, cost, capacity)) in enumerate(PROJECTS.items()):
        yes, no = PROJECT_CHANCE[kind]
        where = np.flatnonzero(rng.random(nv) < np.where(qualifies[kind], yes, no))
        k = len(where)
        cap = village_hh[where] if capacity is None else np.minimum(rng.integers(capacity[0], capacity[1] + 1, size=k), village_hh[where])
        parts.append(
            pd.DataFrame(
                {
                    "village": where,
                    "order": order,
                    "key": rng.random(k),
                    "kind": kind.value,
                    "category": category.value,
                    "cost": np.round(rng.uniform(cost[0], cost[1], size=k) / COST_STEP) * COST_STEP,
                    "capacity": np.maximum(cap, 1).astype(np.int64),
                    "measure_id": measure,
                    "effect": effect.value,
                    "uplift_bonus": (rng.integers(bonus[0] // 100, bonus[1] // 100 + 1, size=k) * 100).astype(float),
                }
            )
        )
    df = pd.concat(parts, ignore_index=True)
    # at most three per village: keep a random three, then list them by village and kind
    df = df.sort_values(["village", "key"], kind="stable")
    df = df[df.groupby("village").cumcount() < MAX_PROJECTS_PER_VILLAGE]
    df = df.sort_values(["village", "order"], kind="stable").reset_index(drop=True)
    df["project_id"] = _numbered("J", np.arange(first, first + len(df)), width)
    df["village_id"] = tree.ids[Level.VILLAGE][df["village"].to_numpy()]
    return df


# ---------------------------------------------------------------------------------------------------------------
# Funds
# ---------------------------------------------------------------------------------------------------------------


def _fund_frame(fund_id: np.ndarray, region: np.ndarray, name: np.ndarray, amount: np.ndarray, categories: np.ndarray | str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "fund_id": fund_id,
            "region_id": region,
            "name": name,
            "amount": np.round(np.asarray(amount, dtype=float), MONEY_DECIMALS),
            "categories": categories,
            "targets": "",
            "co_financing": 0.0,
            "paired": 0,
        }
    )


def _paired_counties(tree: _Tree, rng: np.random.Generator) -> list[np.ndarray]:
    """Per province, the positions of the counties its eastern partner pairs with (about 60%, at least one)."""
    county_prov = tree.up(Level.COUNTY, Level.PROVINCE)
    pick = rng.random(len(county_prov)) < PAIRED_COUNTY_SHARE
    out = []
    for p in range(len(tree.ids[Level.PROVINCE])):
        mine = np.flatnonzero(county_prov == p)
        chosen = mine[pick[mine]]
        out.append(chosen if len(chosen) else mine[:1])
    return out


def _funds(tree: _Tree, paired_counties: list[np.ndarray], rng: np.random.Generator) -> pd.DataFrame:
    """Funds at all six levels (earmarked and general) plus one east-west paired fund per province."""
    total = MONEY_PER_HOUSEHOLD * float(tree.hh[Level.CENTRAL][0])
    parts: list[pd.DataFrame] = []

    # central: earmarked funds over the whole tree (targets empty), two with co-financing
    cats = list(CENTRAL_EARMARKS)
    central = _fund_frame(
        np.array([f"F-{ROOT_ID}-{c.value}" for c in cats]),
        np.full(len(cats), ROOT_ID),
        np.array([f"Central {c.value} fund" for c in cats]),
        np.array([total * LEVEL_SHARE[Level.CENTRAL] * CENTRAL_EARMARKS[c][0] for c in cats]),
        np.array([c.value for c in cats]),
    )
    central["co_financing"] = [CENTRAL_EARMARKS[c][1] for c in cats]
    parts.append(central)

    for level in (Level.PROVINCE, Level.CITY, Level.COUNTY, Level.TOWNSHIP, Level.VILLAGE):
        ids, hh = tree.ids[level], tree.hh[level]
        has = hh > 0
        if level == Level.VILLAGE:
            has &= rng.random(len(ids)) < VILLAGE_FUND_CHANCE
        weight = np.where(has, hh * rng.uniform(*LEVEL_NOISE, size=len(ids)), 0.0)
        money = total * LEVEL_SHARE[level] * weight / weight.sum() if weight.sum() > 0 else weight
        ids, money, names = ids[has], money[has], tree.name(level)[has]
        parts.extend(_level_funds(level, ids, names, money, rng))

    # east-west paired assistance: partner E<nn> (outside the subtree) serves counties of province P<nn>
    prov_hh = tree.hh[Level.PROVINCE]
    paired = _fund_frame(
        np.char.add(np.char.add("F-", tree.partners), np.char.add("-paired-", tree.ids[Level.PROVINCE])),
        tree.partners,
        np.array([f"East-west pairing: {PARTNER_TITLE} {e[1:]} with {n}" for e, n in zip(tree.partners, tree.name(Level.PROVINCE))]),
        total * PAIRED_SHARE * prov_hh / prov_hh.sum(),
        LIST_SEP.join(c.value for c in PAIRED_CATEGORIES),
    )
    paired["targets"] = [LIST_SEP.join(tree.ids[Level.COUNTY][c]) for c in paired_counties]
    paired["paired"] = 1
    parts.append(paired)
    return pd.concat(parts, ignore_index=True)


def _level_funds(level: Level, ids: np.ndarray, names: np.ndarray, money: np.ndarray, rng: np.random.Generator) -> list[pd.DataFrame]:
    """The funds of one level: general ("any") money plus the level's earmarks."""
    k = len(ids)
    if level == Level.PROVINCE:
        # a general fund plus 1-2 earmarked ones (distinct categories, drawn without replacement)
        n_ear = rng.integers(1, 3, size=k)
        order = np.argsort(rng.random((k, len(PROVINCE_EARMARKS))), axis=1)
        out = [_fund_frame(_fid(ids, "general"), ids, np.char.add(names, " general fund"), money * PROVINCE_GENERAL_SHARE, ANY_CATEGORY)]
        rest = money * (1.0 - PROVINCE_GENERAL_SHARE) / n_ear
        for slot in range(2):
            sel = n_ear > slot
            cat = np.array([c.value for c in PROVINCE_EARMARKS])[order[sel, slot]]
            out.append(_fund_frame(np.char.add(np.char.add(np.char.add("F-", ids[sel]), "-"), cat), ids[sel],
                                   np.char.add(np.char.add(np.char.add(names[sel], " "), cat), " fund"), rest[sel], cat))
        return _by_region(out)
    if level == Level.CITY:
        category, chance, share = CITY_EARMARK
        sel = rng.random(k) < chance
        general = money * np.where(sel, 1.0 - share, 1.0)
        out = [
            _fund_frame(_fid(ids, "general"), ids, np.char.add(names, " general fund"), general, ANY_CATEGORY),
            _fund_frame(_fid(ids[sel], category.value), ids[sel], np.char.add(names[sel], f" {category.value} fund"), money[sel] * share, category.value),
        ]
        return _by_region(out)
    if level == Level.COUNTY:
        # integrated agricultural funds ("any") plus, in half of the counties, one earmarked fund
        sel = rng.random(k) < COUNTY_EARMARK_CHANCE
        cat = np.array([c.value for c in COUNTY_EARMARKS])[rng.integers(0, len(COUNTY_EARMARKS), size=k)][sel]
        general = money * np.where(sel, 1.0 - COUNTY_EARMARK_SHARE, 1.0)
        out = [
            _fund_frame(_fid(ids, "integrated"), ids, np.char.add(names, " integrated fund"), general, ANY_CATEGORY),
            _fund_frame(np.char.add(np.char.add(np.char.add("F-", ids[sel]), "-"), cat), ids[sel],
                        np.char.add(np.char.add(np.char.add(names[sel], " "), cat), " fund"), money[sel] * COUNTY_EARMARK_SHARE, cat),
        ]
        return _by_region(out)
    suffix = "township" if level == Level.TOWNSHIP else "collective"
    return [_fund_frame(_fid(ids, suffix), ids, np.char.add(names, f" {suffix} fund"), money, ANY_CATEGORY)]


def _fid(ids: np.ndarray, suffix: str) -> np.ndarray:
    return np.char.add(np.char.add("F-", ids), f"-{suffix}")


def _by_region(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """One frame with a region's funds next to each other (general first), in region order."""
    df = pd.concat(frames, ignore_index=True)
    df["_slot"] = np.concatenate([np.full(len(f), i) for i, f in enumerate(frames)])
    return [df.sort_values(["region_id", "_slot"], kind="stable").drop(columns="_slot")]


# ---------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------


def _skills(k: int, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``counts[i]`` distinct weighted skills per helper, ``;``-joined in contract order (Gumbel top-k)."""
    skills = list(SKILL_WEIGHTS)
    keys = np.log(np.array(list(SKILL_WEIGHTS.values())))[None, :] + rng.gumbel(size=(k, len(skills)))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    chosen = rank < counts[:, None]
    mask = chosen.astype(np.int64) @ (1 << np.arange(len(skills)))
    labels = np.array([LIST_SEP.join(s.value for b, s in enumerate(skills) if m >> b & 1) for m in range(1 << len(skills))])
    return labels[mask]


def _helpers(tree: _Tree, paired_counties: list[np.ndarray], rng: np.random.Generator, first: int = 1, width: int = 6) -> pd.DataFrame:
    """Household helpers per township (capacity ~95% of need overall), first secretaries and work teams
    for poor villages, and cadres seconded by the eastern partners to their paired counties."""
    frames = []
    # household helpers: enough for a random 71-111% of each township's households, from four levels
    need = tree.hh[Level.TOWNSHIP]
    mean_cap = (HELPER_CAPACITY[0] + HELPER_CAPACITY[1]) / 2
    n_help = np.rint(need * rng.uniform(*HELPER_COVER, size=len(need)) / mean_cap).astype(np.int64)
    town = np.repeat(np.arange(len(need)), n_help)
    k = len(town)
    levels = list(HELPER_HOME_SHARES)
    home_level = np.array(levels)[_draw(np.array(list(HELPER_HOME_SHARES.values())), rng.random(k))]
    home = _home(tree, Level.TOWNSHIP, town, home_level)
    frames.append(
        pd.DataFrame(
            {
                "home_region_id": home,
                "kind": HelperKind.HOUSEHOLD_HELPER.value,
                "capacity": rng.integers(HELPER_CAPACITY[0], HELPER_CAPACITY[1] + 1, size=k),
                "skills": _skills(k, rng.integers(2, 4, size=k), rng),
                "reach": np.where(home_level == Level.TOWNSHIP, Reach.TOWNSHIP.value, Reach.COUNTY.value),
                "paired": 0,
            }
        )
    )
    # first secretaries: one or two candidates per poor village, from county, city or province units
    poor = np.flatnonzero(tree.village_flags["poor_village"])
    sec = np.repeat(poor, rng.integers(SECRETARIES_PER_POOR_VILLAGE[0], SECRETARIES_PER_POOR_VILLAGE[1] + 1, size=len(poor)))
    levels = list(SECRETARY_HOME_SHARES)
    sec_level = np.array(levels)[_draw(np.array(list(SECRETARY_HOME_SHARES.values())), rng.random(len(sec)))]
    frames.append(
        pd.DataFrame(
            {
                "home_region_id": _home(tree, Level.VILLAGE, sec, sec_level),
                "kind": HelperKind.FIRST_SECRETARY.value,
                "capacity": 1,
                "skills": _skills(len(sec), np.full(len(sec), 2), rng),
                "reach": Reach.COUNTY.value,
                "paired": 0,
            }
        )
    )
    # village work-team members stationed in half of the poor villages (home: the township)
    team = poor[rng.random(len(poor)) < WORK_TEAM_CHANCE]
    frames.append(
        pd.DataFrame(
            {
                "home_region_id": tree.ids[Level.TOWNSHIP][tree.parent[Level.VILLAGE][team]],
                "kind": HelperKind.WORK_TEAM.value,
                "capacity": rng.integers(WORK_TEAM_CAPACITY[0], WORK_TEAM_CAPACITY[1] + 1, size=len(team)),
                "skills": _skills(len(team), rng.integers(1, 3, size=len(team)), rng),
                "reach": Reach.TOWNSHIP.value,
                "paired": 0,
            }
        )
    )
    # paired cadres from the eastern partners, stationed in the counties their partner pairs with
    targets = np.concatenate(paired_counties)
    per = rng.integers(PAIRED_HELPERS_PER_COUNTY[0], PAIRED_HELPERS_PER_COUNTY[1] + 1, size=len(targets))
    county = np.repeat(targets, per)
    frames.append(
        pd.DataFrame(
            {
                "home_region_id": tree.ids[Level.COUNTY][county],
                "kind": HelperKind.HOUSEHOLD_HELPER.value,
                "capacity": rng.integers(HELPER_CAPACITY[0], HELPER_CAPACITY[1] + 1, size=len(county)),
                "skills": _skills(len(county), rng.integers(2, 4, size=len(county)), rng),
                "reach": Reach.COUNTY.value,
                "paired": 1,
            }
        )
    )
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "helper_id", _numbered("W", np.arange(first, first + len(out)), width))
    return out


def _home(tree: _Tree, level: Level, pos: np.ndarray, home_level: np.ndarray) -> np.ndarray:
    """Id of the ancestor at ``home_level[i]`` of region ``pos[i]`` of ``level``."""
    home = np.empty(len(pos), dtype=object)
    for lv in np.unique(home_level):
        sel = home_level == lv
        home[sel] = tree.ids[Level(int(lv))][tree.up(level, Level(int(lv)))[pos[sel]]]
    return home.astype(str)



# ---------------------------------------------------------------------------------------------------------------
# Laminar benchmark family (DESIGN §4): the generator's tree, synthetic plans, one budget per region
# ---------------------------------------------------------------------------------------------------------------
LAMINAR_PLANS = 5  # plans per household, the empty plan included
LAMINAR_MONEY_SHARE = 0.55  # money over all levels / what every household's dearest plan would cost
LAMINAR_STEP = (0.8, 0.5)  # cost steps between plans: log-normal median (10,000 yuan) and sigma
LAMINAR_RESPONSE = (0.3, 1.5)  # value of plan k = 1 - (1 - v0) exp(-a cost_k), a uniform in this range
LAMINAR_NOISE = 0.03  # additive noise on values (puts some plans below the concave hull)


def laminar_instance(households: int, seed: int = 0, plans_per_household: int = LAMINAR_PLANS) -> Laminar:
    """A laminar budget problem shaped like our instances: the generator's region tree (villages of about 50
    households), ``plans_per_household`` plans per household (the first costs nothing), money held at every
    region of all six levels (shares as :data:`LEVEL_SHARE`), about 55% of what the dearest plans would cost.
    Money in units of 10,000 yuan; vectorized, so 10 million households fit."""
    rng = np.random.default_rng(seed)
    provinces = int(np.clip(households // 50_000, 1, 31))
    tree = _Tree.build(households, provinces, rng)
    levels = list(Level)
    offset = np.cumsum([0] + [len(tree.ids[lv]) for lv in levels])
    n_nodes = int(offset[-1])
    ancestors = np.full((n_nodes, len(levels)), -1, dtype=np.int64)
    for lv in levels:
        own = np.arange(len(tree.ids[lv]))
        rows = offset[lv] + own
        for up in levels[: lv + 1]:
            ancestors[rows, up] = offset[up] + tree.up(lv, up)
    n_v = tree.hh[Level.VILLAGE]
    hh_node = offset[Level.VILLAGE] + np.repeat(np.arange(len(n_v)), n_v)
    n, k = households, plans_per_household
    v0 = rng.uniform(0.02, 0.3, size=n)
    steps = rng.lognormal(np.log(LAMINAR_STEP[0]), LAMINAR_STEP[1], size=(n, k - 1))
    cost = np.concatenate([np.zeros((n, 1)), np.cumsum(steps, axis=1)], axis=1)
    a = rng.uniform(*LAMINAR_RESPONSE, size=n)
    value = 1.0 - (1.0 - v0[:, None]) * np.exp(-a[:, None] * cost)
    value[:, 1:] = np.clip(value[:, 1:] + rng.normal(0.0, LAMINAR_NOISE, size=(n, k - 1)), 0.0, 1.0)
    total = LAMINAR_MONEY_SHARE * cost[:, -1].sum()
    budget = np.zeros(n_nodes)
    for lv in levels:
        weight = tree.hh[lv] * rng.uniform(*LEVEL_NOISE, size=len(tree.hh[lv]))
        budget[offset[lv] : offset[lv + 1]] = total * LEVEL_SHARE[lv] * weight / weight.sum()
    return Laminar(
        plan_hh=np.repeat(np.arange(n), k),
        cost=cost.ravel(),
        value=value.ravel(),
        hh_node=hh_node,
        ancestors=ancestors,
        budget=budget,
    )
