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

import dataclasses
from collections.abc import Mapping

import pandas as pd

from .contract import LEVEL_NAMES, LIST_SEP, MAX_YUAN
from .data import Instance
from .errors import InputError
from .scenario import Scenario, data_edit_problem, edit_parts


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
        parts = edit_parts(key)
        where = f"overrides: {key}"
        problem = data_edit_problem(key, value)
        if problem:
            raise InputError(f"{where}: {problem}")
        if parts[0] == "funds":
            if parts[1] == "paired":
                rows = funds["paired"].to_numpy(dtype=bool)
            elif parts[1] == "level":
                rows = level_of == int(names[parts[2]])
            elif parts[1] == "region":
                rows = (funds["region_id"] == parts[2]).to_numpy()
                if not rows.any():
                    raise InputError(f"{where}: no fund is held at region '{parts[2]}'")
            elif parts[1] == "category":
                rows = funds["categories"].str.split(LIST_SEP).apply(lambda cs, c=parts[2]: c in cs).to_numpy()
            elif parts[1] == "add":
                if parts[2] not in set(instance.tree.ids):
                    raise InputError(f"{where}: unknown region '{parts[2]}'")
                extra = {c: "" for c in funds.columns} | {
                    "fund_id": f"F-extra-{parts[2]}", "region_id": parts[2], "name": "extra money (what-if)",
                    "amount": _apply(pd.Series([0.0]), value, where).iat[0], "categories": "any", "co_financing": 0.0, "paired": False,
                }
                funds = pd.concat([funds, pd.DataFrame([extra])], ignore_index=True)
                level_of = instance.tree.level[instance.tree.pos(funds["region_id"])]
                continue
            else:
                rows = (funds["fund_id"] == parts[2]).to_numpy()
                if not rows.any():
                    raise InputError(f"{where}: unknown fund '{parts[2]}'")
            funds.loc[rows, "amount"] = _apply(funds.loc[rows, "amount"], value, where)
        else:
            mid, field = parts[1], parts[2]
            rows = (measures["measure_id"] == mid).to_numpy()
            if not rows.any():
                raise InputError(f"{where}: unknown measure '{mid}'")
            if field != "enabled":
                measures.loc[rows, field] = _apply(measures.loc[rows, field], value, where)
            elif not value:
                off.append(mid)
    if off:
        # nobody qualifies: a size above the contract's maximum is impossible
        impossible = measures["measure_id"].isin(off)
        measures.loc[impossible, "eligibility"] = measures.loc[impossible, "eligibility"].astype(str).str.cat(
            pd.Series("max:size=0", index=measures.index[impossible]), sep=LIST_SEP
        ).str.strip(LIST_SEP)
    # the edits are the scenario's, recorded with the run: the data are still those of the files
    return dataclasses.replace(instance.replace(funds=funds, measures=measures), changed=instance.changed)


def _apply(current: pd.Series, value: object, where: str) -> pd.Series:
    """``current`` times a factor ``"x0.8"``, or set to a number (a value :func:`data_edit_problem` accepts); at
    most the data's limit for money, so that the edit, not an input file, is named when it is too large."""
    if isinstance(value, str):
        out = current.astype(float) * float(value[1:])
    else:
        out = pd.Series(float(value), index=current.index)  # type: ignore[arg-type]
    if (out > MAX_YUAN).any():
        raise InputError(f"{where}: makes an amount of {out.max():.6g} yuan, above the data's limit of {MAX_YUAN:.0e}")
    return out
