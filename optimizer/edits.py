"""Data-level scenario overrides: scale or set fund amounts, change a measure's cost or uplift, switch it off.

Keys (values ``"x0.8"`` multiply; plain numbers set, where a single row is addressed):

* ``funds.level.<central|province|city|county|township|village>: x0.8`` every fund held at that level
* ``funds.region.<region_id>: x1.2`` the funds held at one region
* ``funds.category.<category>: x1.5`` the funds earmarked for that category (``any`` funds excluded)
* ``funds.paired: x2`` every paired-assistance fund
* ``funds.fund.<fund_id>: 5000000`` or ``x2`` one fund
* ``funds.add.<region_id>: 10000000`` a new unearmarked fund of that amount held at the region
* ``measures.<measure_id>.<cost_fixed|cost_per_person|income_uplift>: 1800`` or ``x1.1``
* ``measures.<measure_id>.enabled: false`` the measure is offered to nobody
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .contract import LEVEL_NAMES, LIST_SEP, Category
from .data import Instance
from .errors import InputError
from .scenario import Scenario

MEASURE_FIELDS = ("cost_fixed", "cost_per_person", "income_uplift")


def load_scenario_data(scenario: Scenario) -> Instance:
    """The scenario's data folder (read within its input limit) or database, with its data edits applied."""
    from .storage import load_source  # storage needs the data loader; edits are applied after it

    return apply_data_edits(load_source(scenario.data_source, max_file_mb=scenario.limits.max_input_mb), scenario.data_edits)


def apply_data_edits(instance: Instance, edits: Mapping[str, object]) -> Instance:
    """The instance with every edit applied, re-validated; errors name the override key."""
    if not edits:
        return instance
    funds = instance.funds.copy()
    measures = instance.measures.copy()
    level_of = instance.tree.level[instance.tree.pos(funds["region_id"])]
    names = {name: lv for lv, name in LEVEL_NAMES.items()}
    off: list[str] = []
    for key, value in sorted(edits.items()):
        parts = key.split(".")
        where = f"overrides: {key}"
        if parts[0] == "funds":
            if parts[1:2] == ["paired"] and len(parts) == 2:
                rows = funds["paired"].to_numpy(dtype=bool)
            elif len(parts) == 3 and parts[1] == "level":
                if parts[2] not in names:
                    raise InputError(f"{where}: unknown level '{parts[2]}' (levels: {', '.join(names)})")
                rows = level_of == int(names[parts[2]])
            elif len(parts) == 3 and parts[1] == "region":
                rows = (funds["region_id"] == parts[2]).to_numpy()
                if not rows.any():
                    raise InputError(f"{where}: no fund is held at region '{parts[2]}'")
            elif len(parts) == 3 and parts[1] == "category":
                if parts[2] not in {c.value for c in Category}:
                    raise InputError(f"{where}: unknown category '{parts[2]}'")
                rows = funds["categories"].str.split(LIST_SEP).apply(lambda cs, c=parts[2]: c in cs).to_numpy()
            elif len(parts) == 3 and parts[1] == "add":
                if parts[2] not in set(instance.tree.ids):
                    raise InputError(f"{where}: unknown region '{parts[2]}'")
                amount = _apply(pd.Series([0.0]), value, where, allow_set=True).iat[0]
                extra = {c: "" for c in funds.columns} | {
                    "fund_id": f"F-extra-{parts[2]}", "region_id": parts[2], "name": "extra money (what-if)",
                    "amount": amount, "categories": "any", "co_financing": 0.0, "paired": False,
                }
                funds = pd.concat([funds, pd.DataFrame([extra])], ignore_index=True)
                level_of = instance.tree.level[instance.tree.pos(funds["region_id"])]
                continue
            elif len(parts) == 3 and parts[1] == "fund":
                rows = (funds["fund_id"] == parts[2]).to_numpy()
                if not rows.any():
                    raise InputError(f"{where}: unknown fund '{parts[2]}'")
            else:
                raise InputError(
                    f"{where}: unknown fund override (use funds.level.<level>, funds.region.<id>, funds.category.<c>, funds.paired, funds.fund.<id>)"
                )
            single = parts[1] == "fund"
            funds.loc[rows, "amount"] = _apply(funds.loc[rows, "amount"], value, where, allow_set=single)
        elif parts[0] == "measures" and len(parts) == 3:
            mid, field = parts[1], parts[2]
            rows = (measures["measure_id"] == mid).to_numpy()
            if not rows.any():
                raise InputError(f"{where}: unknown measure '{mid}'")
            if field == "enabled":
                if not isinstance(value, bool):
                    raise InputError(f"{where}: enabled must be true or false")
                if not value:
                    off.append(mid)
            elif field in MEASURE_FIELDS:
                measures.loc[rows, field] = _apply(measures.loc[rows, field], value, where, allow_set=True)
            else:
                raise InputError(f"{where}: unknown measure field '{field}' (fields: {', '.join((*MEASURE_FIELDS, 'enabled'))})")
        else:
            raise InputError(f"{where}: unknown data override")
    if off:
        # nobody qualifies: a size above the contract's maximum is impossible
        impossible = measures["measure_id"].isin(off)
        measures.loc[impossible, "eligibility"] = measures.loc[impossible, "eligibility"].astype(str).str.cat(
            pd.Series("max:size=0", index=measures.index[impossible]), sep=LIST_SEP
        ).str.strip(LIST_SEP)
    return instance.replace(funds=funds, measures=measures)


def _apply(current: pd.Series, value: object, where: str, allow_set: bool) -> pd.Series:
    if isinstance(value, str) and value.startswith("x"):
        try:
            factor = float(value[1:])
        except ValueError:
            raise InputError(f"{where}: '{value}' is not a factor like x0.8") from None
        if not np.isfinite(factor) or factor < 0:
            raise InputError(f"{where}: factor must be a non-negative number")
        return current.astype(float) * factor
    if allow_set and isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0 or not np.isfinite(value):
            raise InputError(f"{where}: value must be a non-negative number")
        return pd.Series(float(value), index=current.index)
    raise InputError(f"{where}: expected a factor like 'x0.8'" + (" or a number" if allow_set else ""))
