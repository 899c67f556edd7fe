"""A lean county's inputs written to its worker's disk come back exactly as they were, whatever they were read from."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from optimizer import load_instance
from optimizer.data import Instance
from optimizer.decompose import plan_blocks
from optimizer.generate import generate, generate_partitioned
from optimizer.model import build_model
from optimizer.partitioned import load_frame, load_partitioned
from optimizer.plans import build_plans
from optimizer.scenario import Scenario
from optimizer.spill import read_inputs, read_model, write_inputs, write_model

SCENARIO = Scenario(name="spill", data="unused")


def _same(a: Any, b: Any, what: str) -> None:
    """Equal values of equal types, field by field."""
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=what)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b), what
    elif isinstance(a, pd.Index):
        assert a.equals(b) and a.dtype == b.dtype, what
    elif sp.issparse(a):
        assert a.dtype == b.dtype and a.shape == b.shape and (a != b).nnz == 0, what
    elif dataclasses.is_dataclass(a):
        assert type(a) is type(b), what
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{what}.{f.name}")
    else:
        assert a == b and type(a) is type(b), what


def _county(where: str, tmp_path: Path) -> Instance:
    if where == "csv":  # a whole instance, as split_by_county's blocks are
        generate(600, seed=3, out=tmp_path / "csv")
        return load_instance(tmp_path / "csv")
    if where == "parquet":
        generate_partitioned(1500, seed=3, out=tmp_path / "parts")
        county = sorted(load_frame(tmp_path / "parts").county_households.index)[0]
        return load_partitioned(tmp_path / "parts", [county])
    from optimizer import storage

    generate(600, seed=3, out=tmp_path / "csv")
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    engine = storage.open_db(url, create=True)
    storage.init_db(engine)
    storage.import_folder(engine, tmp_path / "csv")
    frame = storage.registry_frame(url)
    counties = sorted(frame.county_households.index)
    blocks = plan_blocks(frame.funds, frame.tree, counties, frame.county_households.reindex(counties).to_numpy())
    return storage.load_registry_county(url, counties[0], storage.county_regions(frame, counties[:1])[0], blocks.funds[0])


@pytest.mark.parametrize("where", ["csv", "parquet", "registry"])
def test_a_county_reads_back_as_it_was_written(where: str, tmp_path: Path) -> None:
    instance = _county(where, tmp_path)
    plans = build_plans(instance, SCENARIO)
    model, index = build_model(instance, SCENARIO, plans)
    path = tmp_path / "county.arrows"
    assert write_inputs(path, instance, plans, index)
    back, back_plans, back_index = read_inputs(path, SCENARIO.plans.max_measures)
    _same(instance, back, "instance")
    _same(plans, back_plans, "plans")
    _same(index, back_index, "index")
    assert back_index.plans is back_plans.table  # one table, as built
    slim = write_model(tmp_path / "county.npz", model)
    assert slim.A.nnz == 0 and len(slim.c) == 0
    _same(model, read_model(tmp_path / "county.npz", slim), "model")


def test_what_the_formats_would_not_give_back_is_not_written(tmp_path: Path) -> None:
    """A column of objects other than text (lists, say) would come back as arrays: nothing is written, and the
    final task builds the county again."""
    generate(300, seed=3, out=tmp_path / "csv")
    instance = load_instance(tmp_path / "csv")
    plans = build_plans(instance, SCENARIO)
    _, index = build_model(instance, SCENARIO, plans)
    odd = dataclasses.replace(instance, households=instance.households.assign(tags=[["a"]] * instance.n_households))
    path = tmp_path / "county.arrows"
    assert not write_inputs(path, odd, plans, index)
    assert not write_inputs(path, dataclasses.replace(instance, poor_outside={"X": {1, 2}}), plans, index)  # no JSON for a set
    assert not list(tmp_path.glob("county.*"))
    assert write_inputs(path, dataclasses.replace(instance, poor_outside={"X": 1.5}), plans, index)
    assert read_inputs(path, SCENARIO.plans.max_measures)[0].poor_outside == {"X": 1.5}
