"""Synthetic instances shaped like China's 2014-2020 poverty registry (same seed, same bytes).

Shares are approximate published figures for the 2014 registration ("建档立卡"): 29.5 million poor
households (89.6 million people, about 3.0 per household) in 128,000 poor villages and 832 poor counties;
illness was the most reported main cause (about 42%), followed by lack of capital, lack of skills and lack
of labour; about a fifth of poor households had no labour capacity. The poverty line was 2,300 yuan per
person per year at 2010 prices, about 4,000 yuan in 2020. Money is sized so that budgets bind (about
10,000 yuan per poor household over all six levels, close to what the best plans would cost for half of them).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .contract import TABLES, Cause

HOUSEHOLDS_PER_VILLAGE = 50
HOUSEHOLDS_PER_COUNTY = 2200
MONEY_PER_HOUSEHOLD = 10_000.0  # yuan, all levels together
LEVEL_SHARE = {"central": 0.40, "province": 0.20, "city": 0.10, "county": 0.20, "township": 0.05, "village": 0.05}
PAIRED_SHARE = 0.05

CAUSE_SHARES = {
    Cause.ILLNESS: 0.42,
    Cause.LACK_OF_CAPITAL: 0.17,
    Cause.LACK_OF_SKILLS: 0.13,
    Cause.LACK_OF_LABOUR: 0.10,
    Cause.DISABILITY: 0.06,
    Cause.EDUCATION_BURDEN: 0.05,
    Cause.DISASTER: 0.04,
    Cause.HARSH_ENVIRONMENT: 0.03,
}
SIZE_SHARES = np.array([0.16, 0.22, 0.22, 0.20, 0.12, 0.05, 0.02, 0.01])  # sizes 1..8, mean about 3.0
VILLAGE_FLAG_RATES = {  # (in poor villages, elsewhere)
    "road": (0.25, 0.08),
    "water": (0.18, 0.06),
    "power": (0.05, 0.01),
    "internet": (0.45, 0.20),
    "ecological_zone": (0.35, 0.20),
    "relocation_zone": (0.12, 0.03),
    "old_revolutionary_base": (0.18, 0.10),
}

# measure_id, name, batch, category, cost_fixed, cost_per_person, income_uplift, income_kind, covers, eligibility, combines_with
MEASURES = [
    ("industry", "Industry support (seeds, livestock, cooperative shares)", "production", "industry", 5000, 1000, 1400, "work", "",
     "labour_min:1", "employment;education;renovation;medical;pv_dividend"),
    ("employment", "Employment transfer and skills training", "production", "industry", 3000, 0, 2000, "work", "",
     "labour_min:1", "industry;relocation;education;renovation;medical"),
    ("tourism_job", "Job in a village tourism or industry project", "production", "industry", 1500, 0, 2500, "work", "",
     "labour_min:1;requires_project:industry_tourism", "education;renovation;medical"),
    ("relocation", "Relocation from inhospitable areas", "relocation", "relocation", 10000, 20000, 1200, "work", "housing",
     "requires_flag:in_relocation_zone", "employment;education;medical;dibao"),
    ("forest_ranger", "Ecological forest-ranger post", "ecological", "ecological", 1000, 0, 1000, "work", "",
     "labour_min:1;requires_flag:in_ecological_zone", "eco_compensation;education;medical;renovation"),
    ("eco_compensation", "Ecological compensation payment", "ecological", "ecological", 0, 315, 300, "transfer", "",
     "requires_flag:in_ecological_zone", "forest_ranger;dibao;education"),
    ("education", "Education subsidy (compulsory to vocational)", "education", "education", 2500, 0, 0, "transfer", "education",
     "min:school_children=1", "industry;employment;tourism_job;relocation;forest_ranger;eco_compensation;dibao;renovation"),
    ("dibao", "Minimum living guarantee", "social_security", "guarantee", 0, 1890, 1800, "transfer", "living",
     "", "medical;education;relocation;eco_compensation;renovation;pv_dividend"),
    ("medical", "Medical assistance and serious-illness insurance", "social_security", "guarantee", 3000, 0, 500, "transfer", "medical",
     "requires_flag:chronic_illness", "dibao;industry;employment;tourism_job;forest_ranger;renovation"),
    ("renovation", "Dangerous-house renovation", "relocation", "housing", 25000, 0, 0, "transfer", "housing",
     "requires_flag:unsafe_house", "industry;employment;tourism_job;forest_ranger;education;dibao;medical"),
    ("pv_dividend", "Photovoltaic / collective asset dividend", "production", "industry", 4000, 0, 600, "transfer", "",
     "", "industry;dibao"),
]

# kind, category, measure boosted or enabled, effect, uplift_bonus, (cost low, high), (capacity low, high)
PROJECT_KINDS = [
    ("infrastructure", "infrastructure", "industry", "boost", 600, (150_000, 600_000), (30, 80)),
    ("industry_tourism", "industry", "tourism_job", "enable", 0, (150_000, 500_000), (10, 30)),
    ("new_village", "housing", "relocation", "boost", 500, (200_000, 800_000), (20, 60)),
    ("training", "industry", "employment", "boost", 500, (50_000, 150_000), (30, 80)),
    ("ecology", "ecological", "forest_ranger", "boost", 300, (80_000, 300_000), (10, 40)),
]

CENTRAL_EARMARKS = {  # category: share of the central money, co-financing
    "industry": (0.30, 0.2),
    "guarantee": (0.24, 0.0),
    "education": (0.14, 0.0),
    "relocation": (0.12, 0.0),
    "infrastructure": (0.08, 0.2),
    "ecological": (0.06, 0.0),
    "housing": (0.06, 0.0),
}
SKILLS = np.array(["agriculture", "employment", "health", "education", "construction", "social_work"])


def generate(households: int, seed: int = 0, provinces: int = 1, out: Path | None = None) -> dict[str, pd.DataFrame]:
    """Generate the six input tables; write them as CSV to ``out`` when given."""
    if households < 1 or provinces < 1:
        raise ValueError("households and provinces must be at least 1")
    rng = np.random.default_rng(seed)
    regions, village_hh = _regions(households, provinces, rng)
    hh = _households(regions, village_hh, rng)
    tables = {
        "regions": regions,
        "households": hh,
        "measures": pd.DataFrame(MEASURES, columns=[c.name for c in TABLES["measures"]]),
        "projects": _projects(regions, rng),
        "funds": _funds(regions, hh, rng),
        "helpers": _helpers(regions, hh, rng),
    }
    tables = {name: df[[c.name for c in TABLES[name]]].reset_index(drop=True) for name, df in tables.items()}
    if out is not None:
        write_tables(tables, Path(out))
    return tables


def write_tables(tables: dict[str, pd.DataFrame], out: Path) -> None:
    """Write each table as ``out/<name>.csv``, atomically (temporary file, then rename)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".csv", dir=out)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                df.to_csv(fh, index=False, lineterminator="\n")
            os.replace(tmp, out / f"{name}.csv")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _split(total: int, parts: int, rng: np.random.Generator, minimum: int = 1) -> np.ndarray:
    """Split ``total`` into ``parts`` positive integers with some spread."""
    if parts * minimum > total:
        minimum = 0
    weights = rng.gamma(4.0, size=parts)
    extra = rng.multinomial(total - parts * minimum, weights / weights.sum())
    return extra + minimum


def _ids(parent: np.ndarray, prefix: str, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Child ids ``<parent><prefix><n>`` for ``counts[i]`` children of ``parent[i]``."""
    width = max(2, len(str(int(counts.max()) if len(counts) else 1)))
    par = np.repeat(parent, counts)
    starts = np.cumsum(counts) - counts
    number = np.arange(counts.sum()) - np.repeat(starts, counts) + 1
    return np.char.add(np.char.add(par.astype(str), prefix), np.char.zfill(number.astype(str), width)), par


def _regions(n: int, provinces: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    prov = np.char.add("P", np.char.zfill((np.arange(provinces) + 1).astype(str), 2))
    n_cities = rng.integers(3, 6, size=provinces)
    city, city_par = _ids(prov, "C", n_cities)
    n_counties_total = max(len(city), int(round(n / HOUSEHOLDS_PER_COUNTY)))
    county, county_par = _ids(city, "X", _split(n_counties_total, len(city), rng))
    town, town_par = _ids(county, "T", rng.integers(4, 9, size=len(county)))
    n_villages = max(len(town), int(np.ceil(n / HOUSEHOLDS_PER_VILLAGE)))
    village, village_par = _ids(town, "V", _split(n_villages, len(town), rng))
    village_hh = _split(n, len(village), rng)
    east = np.char.add("E", np.char.zfill((np.arange(provinces) + 1).astype(str), 2))
    western_prov = (np.arange(provinces) % 5) < 3  # about 60% of provinces are western
    rows = [
        pd.DataFrame({"region_id": ["CN"], "parent_id": [""], "level": [0], "name": ["Central government"]}),
        pd.DataFrame({"region_id": prov, "parent_id": "CN", "level": 1, "name": np.char.add("Province ", np.char.lstrip(prov, "P"))}),
        pd.DataFrame({"region_id": east, "parent_id": "CN", "level": 1, "name": np.char.add("Eastern partner ", np.char.lstrip(east, "E"))}),
        pd.DataFrame({"region_id": city, "parent_id": city_par, "level": 2, "name": np.char.add("City ", city)}),
        pd.DataFrame({"region_id": county, "parent_id": county_par, "level": 3, "name": np.char.add("County ", county)}),
        pd.DataFrame({"region_id": town, "parent_id": town_par, "level": 4, "name": np.char.add("Township ", town)}),
    ]
    poor = rng.random(len(village)) < 0.6
    share_poor = np.where(poor, rng.uniform(0.2, 0.4, len(village)), rng.uniform(0.08, 0.2, len(village)))
    villages = pd.DataFrame(
        {
            "region_id": village,
            "parent_id": village_par,
            "level": 5,
            "name": np.char.add("Village ", village),
            "rural_households": np.ceil(village_hh / share_poor).astype(np.int64),
            "poor_village": poor.astype(int),
        }
    )
    for flag, (in_poor, other) in VILLAGE_FLAG_RATES.items():
        villages[flag] = (rng.random(len(village)) < np.where(poor, in_poor, other)).astype(int)
    regions = pd.concat([*rows, villages], ignore_index=True)
    regions["rural_households"] = regions["rural_households"].fillna(0).astype(np.int64)
    for flag in ("poor_village", *VILLAGE_FLAG_RATES):
        regions[flag] = regions[flag].fillna(0).astype(int)
    province_of = regions["region_id"].str.slice(0, 3)
    western = dict(zip(prov, western_prov.astype(int)))
    regions["western"] = province_of.map(western).fillna(0).astype(int)
    return regions, village_hh


def _households(regions: pd.DataFrame, village_hh: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    villages = regions[regions["level"] == 5].reset_index(drop=True)
    n = int(village_hh.sum())
    v = np.repeat(np.arange(len(villages)), village_hh)
    causes = np.array([c.value for c in CAUSE_SHARES])
    cause = causes[rng.choice(len(causes), size=n, p=np.array(list(CAUSE_SHARES.values())))]
    relocation_zone = villages["relocation_zone"].to_numpy()[v] == 1
    cause = np.where(relocation_zone & (rng.random(n) < 0.4), Cause.HARSH_ENVIRONMENT.value, cause)
    size = rng.choice(np.arange(1, 9), size=n, p=SIZE_SHARES)
    elderly = (rng.random(n) < 0.12) | ((cause == Cause.LACK_OF_LABOUR.value) & (rng.random(n) < 0.5))
    size = np.where(elderly, np.minimum(size, 2), size)
    no_labour = elderly | (cause == Cause.LACK_OF_LABOUR.value) | (rng.random(n) < 0.04)
    labour = np.where(no_labour, 0, np.minimum(size, rng.integers(1, 4, size=n)))
    kids_max = np.maximum(size - 1, 0)
    kids = np.where(rng.random(n) < 0.32, rng.integers(1, 3, size=n), 0)
    kids = np.where(cause == Cause.EDUCATION_BURDEN.value, np.maximum(kids, 1), kids)
    kids = np.where(elderly, 0, np.minimum(kids, kids_max))
    poor_village = villages["poor_village"].to_numpy()[v] == 1
    median = np.where(no_labour, 2400.0, 2900.0)
    income = np.clip(median * np.exp(rng.normal(0.0, 0.33, n)), 400.0, 6000.0)
    return pd.DataFrame(
        {
            "household_id": np.char.add("H", np.char.zfill((np.arange(n) + 1).astype(str), max(7, len(str(n))))),
            "village_id": villages["region_id"].to_numpy()[v],
            "size": size,
            "income_per_capita": income.round(1),
            "labour": labour,
            "school_children": kids,
            "unsafe_house": (rng.random(n) < np.where(poor_village, 0.18, 0.10)).astype(int),
            "chronic_illness": ((cause == Cause.ILLNESS.value) | (rng.random(n) < 0.2)).astype(int),
            "disabled": ((cause == Cause.DISABILITY.value) | (rng.random(n) < 0.08)).astype(int),
            "elderly_only": elderly.astype(int),
            "in_relocation_zone": (relocation_zone & (rng.random(n) < 0.9)).astype(int),
            "in_ecological_zone": ((villages["ecological_zone"].to_numpy()[v] == 1) & (rng.random(n) < 0.9)).astype(int),
            "cause": cause,
        }
    )


def _projects(regions: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    villages = regions[regions["level"] == 5].reset_index(drop=True)
    nv = len(villages)
    lacking = villages[["road", "water", "power", "internet"]].to_numpy().any(axis=1)
    chance = {
        "infrastructure": np.where(lacking, 0.7, 0.1),
        "industry_tourism": np.full(nv, 0.35),
        "new_village": np.where(villages["relocation_zone"] == 1, 0.8, 0.0),
        "training": np.full(nv, 0.3),
        "ecology": np.where(villages["ecological_zone"] == 1, 0.5, 0.0),
    }
    parts = []
    for order, (kind, category, measure, effect, bonus, cost, capacity) in enumerate(PROJECT_KINDS):
        has = rng.random(nv) < chance[kind]
        k = int(has.sum())
        parts.append(
            pd.DataFrame(
                {
                    "village": np.flatnonzero(has),
                    "order": order,
                    "kind": kind,
                    "category": category,
                    "cost": (rng.uniform(*cost, size=k) / 1000).round() * 1000,
                    "capacity": rng.integers(capacity[0], capacity[1] + 1, size=k),
                    "measure_id": measure,
                    "effect": effect,
                    "uplift_bonus": float(bonus),
                }
            )
        )
    df = pd.concat(parts, ignore_index=True).sort_values(["village", "order"], kind="stable")
    df = df[df.groupby("village").cumcount() < 3].reset_index(drop=True)
    df["project_id"] = np.char.add("J", np.char.zfill((np.arange(len(df)) + 1).astype(str), 6))
    df["village_id"] = villages["region_id"].to_numpy()[df["village"].to_numpy()]
    return df


def _funds(regions: pd.DataFrame, hh: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    total = MONEY_PER_HOUSEHOLD * len(hh)
    counts = _households_under(regions, hh)
    rows: list[dict[str, object]] = []

    def add(fund_id: str, region: str, amount: float, categories: str, targets: str = "", co: float = 0.0, paired: int = 0) -> None:
        rows.append(
            {"fund_id": fund_id, "region_id": region, "name": fund_id, "amount": round(float(amount), 2), "categories": categories,
             "targets": targets, "co_financing": co, "paired": paired}
        )

    for category, (share, co) in CENTRAL_EARMARKS.items():
        add(f"F-CN-{category}", "CN", total * LEVEL_SHARE["central"] * share, category, co=co)
    level_names = {1: "province", 2: "city", 3: "county", 4: "township", 5: "village"}
    for level, name in level_names.items():
        at = regions[(regions["level"] == level) & (counts.reindex(regions["region_id"]).fillna(0).to_numpy() > 0)]
        ids = at["region_id"].to_numpy()
        per = total * LEVEL_SHARE[name] * counts.reindex(ids).to_numpy() / len(hh) * rng.uniform(0.8, 1.2, len(ids))
        if name == "village":
            has = rng.random(len(ids)) < 0.7
            per = per / 0.7
            ids, per = ids[has], per[has]
        for region, amount in zip(ids, per):
            if name == "province":
                add(f"F-{region}-general", region, amount * 0.6, "any")
                add(f"F-{region}-education-guarantee", region, amount * 0.4, "education;guarantee")
            elif name == "county":
                add(f"F-{region}-integrated", region, amount * 0.8, "any")
                add(f"F-{region}-relocation-housing", region, amount * 0.2, "relocation;housing")
            else:
                add(f"F-{region}-{name}", region, amount, "any")
    counties = regions.loc[regions["level"] == 3, "region_id"].to_numpy()
    for prov in regions.loc[(regions["level"] == 1) & regions["region_id"].str.startswith("P"), "region_id"]:
        partner = "E" + prov[1:]
        mine = counties[np.char.startswith(counties.astype(str), prov)]
        chosen = mine[rng.random(len(mine)) < 0.6] if len(mine) > 1 else mine
        chosen = chosen if len(chosen) else mine[:1]
        amount = total * PAIRED_SHARE * counts.get(prov, 0) / len(hh)
        add(f"F-{partner}-paired-{prov}", partner, amount, "industry;education;infrastructure", targets=";".join(chosen), paired=1)
    return pd.DataFrame(rows)


def _households_under(regions: pd.DataFrame, hh: pd.DataFrame) -> pd.Series:
    """Poor households in every region's subtree (ids are hierarchical prefixes of the village id)."""
    per_village = hh["village_id"].value_counts()
    out = [per_village]
    parent = regions.set_index("region_id")["parent_id"]
    level = per_village
    for _ in range(5):
        level = level.groupby(parent.reindex(level.index).to_numpy()).sum()
        out.append(level)
    return pd.concat(out)


def _helpers(regions: pd.DataFrame, hh: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    counts = _households_under(regions, hh)
    towns = regions.loc[regions["level"] == 4, ["region_id", "parent_id"]].reset_index(drop=True)
    need = counts.reindex(towns["region_id"]).fillna(0).to_numpy()
    # household helpers: capacity for about 95% of the township's households, from several levels
    per_helper = 5.5
    n_help = np.ceil(need * rng.uniform(0.85, 1.05, len(towns)) / per_helper).astype(np.int64)
    town_of = np.repeat(np.arange(len(towns)), n_help)
    k = len(town_of)
    home_level = rng.choice([4, 3, 2], size=k, p=[0.5, 0.4, 0.1])
    county = towns["parent_id"].to_numpy()[town_of]
    city = regions.set_index("region_id")["parent_id"].reindex(county).to_numpy()
    home = np.where(home_level == 4, towns["region_id"].to_numpy()[town_of], np.where(home_level == 3, county, city))
    paired = rng.random(k) < 0.05
    home = np.where(paired, np.char.add("E", np.char.lstrip(county.astype(str), "P").astype(str).astype("U2")), home)
    skill_idx = np.argsort(rng.random((k, len(SKILLS))), axis=1)[:, :3]
    n_skills = rng.integers(2, 4, size=k)
    skills = [";".join(sorted(SKILLS[row[:m]])) for row, m in zip(skill_idx, n_skills)]
    helpers = pd.DataFrame(
        {
            "home_region_id": home,
            "kind": "household_helper",
            "capacity": rng.integers(3, 9, size=k),
            "skills": skills,
            "reach": np.where(home_level == 4, "township", "county"),
            "paired": paired.astype(int),
        }
    )
    villages = regions[(regions["level"] == 5) & (regions["poor_village"] == 1)].reset_index(drop=True)
    parent = regions.set_index("region_id")["parent_id"]
    v_county = parent.reindex(parent.reindex(villages["region_id"]).to_numpy()).to_numpy()
    sec = np.repeat(np.arange(len(villages)), rng.integers(1, 3, size=len(villages)))
    secretaries = pd.DataFrame(
        {
            "home_region_id": v_county[sec],
            "kind": "first_secretary",
            "capacity": 1,
            "skills": np.array([";".join(sorted(SKILLS[rng.choice(len(SKILLS), 2, replace=False)])) for _ in range(len(sec))]),
            "reach": "county",
            "paired": 0,
        }
    )
    team = np.repeat(np.arange(len(villages)), 2)
    members = pd.DataFrame(
        {
            "home_region_id": v_county[team],
            "kind": "work_team",
            "capacity": 10,
            "skills": SKILLS[rng.integers(0, len(SKILLS), size=len(team))],
            "reach": "county",
            "paired": 0,
        }
    )
    out = pd.concat([helpers, secretaries, members], ignore_index=True)
    out.insert(0, "helper_id", np.char.add("W", np.char.zfill((np.arange(len(out)) + 1).astype(str), 7)))
    return out
