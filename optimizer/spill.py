"""A lean county between rounds: its model and its inputs on its worker's local disk, in formats that hold data
only (numpy's ``.npz`` without pickled objects, Arrow IPC streams), so that the worker's memory does not grow with
its counties and the county's final task reads it back instead of reading, validating and planning it again."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from .data import Instance, parse_eligibility
from .model import LinearModel, ModelIndex
from .plans import Plans, build_templates
from .regions import build_tree

MODEL_ARRAYS = ("c", "row_lo", "row_hi", "col_lo", "col_hi", "integer")  # a spilled model's arrays, besides A's
_DERIVED = ("tree", "eligibility")  # an instance's fields rebuilt from its tables when read back
_CODEC = "zstd"  # 0.57 MB a county of 2,500 households (lz4: 0.95 MB), 5-7 ms to compress
_HEAD = 8  # bytes: the length of the file's JSON header


def write_model(path: Path, model: LinearModel) -> LinearModel:
    """Write the model's arrays to ``path`` (plain ``.npz``); return the model without them (what stays in memory)."""
    A = model.A
    np.savez(path, A_data=A.data, A_indices=A.indices, A_indptr=A.indptr, A_shape=np.array(A.shape), **{k: getattr(model, k) for k in MODEL_ARRAYS})
    return dataclasses.replace(model, A=sp.csr_matrix((0, 0)), **{k: getattr(model, k)[:0].copy() for k in MODEL_ARRAYS})


def read_model(path: Path, slim: LinearModel) -> LinearModel:
    """The model that :func:`write_model` wrote to ``path``, ``slim`` (what it returned) with its arrays again."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in MODEL_ARRAYS}
        A = sp.csr_matrix((z["A_data"], z["A_indices"], z["A_indptr"]), shape=tuple(z["A_shape"]))
    return dataclasses.replace(slim, A=A, **arrays)


def write_inputs(path: Path, instance: Instance, plans: Plans, index: ModelIndex) -> bool:
    """Write a county's instance, plans and model index to ``path``. Returns False, writing nothing, when a field
    holds what these formats would not give back as it was (a column of objects other than text, say): the final
    task then builds the county again."""
    head: dict[str, Any] = {"streams": [], "instance": {}, "index": {}}
    streams: list[pa.Buffer] = []

    def put(name: str, value: pd.DataFrame | np.ndarray) -> bool:
        try:  # an array is a table of one column without pandas' metadata
            table = pa.Table.from_pandas(value) if isinstance(value, pd.DataFrame) else pa.table({"a": value})
        except (pa.ArrowException, TypeError, ValueError):
            return False
        objects = [pd.api.types.is_object_dtype(t) for t in (value.dtypes if isinstance(value, pd.DataFrame) else [value.dtype])]
        if not all(_text_type(table.schema.field(int(i)).type) for i in np.flatnonzero(objects)):
            return False
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        streams.append(sink.getvalue())
        head["streams"].append([name, streams[-1].size])
        return True

    for f in dataclasses.fields(instance):
        value = getattr(instance, f.name)
        if f.name in _DERIVED:
            continue
        if isinstance(value, pd.DataFrame):
            if not put(f"instance.{f.name}", value):
                return False
        elif isinstance(value, str | dict) and _as_json(value):
            head["instance"][f.name] = value
        else:
            return False
    for f in dataclasses.fields(index):
        value = getattr(index, f.name)
        if f.name == "plans" and value is plans.table:
            continue
        if isinstance(value, pd.DataFrame | np.ndarray):
            if not put(f"index.{f.name}", value):
                return False
        elif isinstance(value, int):
            head["index"][f.name] = value
        else:
            return False
    cost = plans.category_cost
    if not (put("plans.table", plans.table) and all(put(f"cost.{k}", getattr(cost, k)) for k in ("data", "indices", "indptr"))):
        return False
    head["cost_shape"] = list(cost.shape)
    text = json.dumps(head).encode()
    body = b"".join([len(text).to_bytes(_HEAD, "little"), text, *streams])
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(len(body).to_bytes(_HEAD, "little") + pa.compress(body, codec=_CODEC, asbytes=True))  # at once: buffer by buffer took twice as long
    tmp.replace(path)
    return True


def read_inputs(path: Path, max_measures: int) -> tuple[Instance, Plans, ModelIndex]:
    """The instance, plans and model index that :func:`write_inputs` wrote to ``path`` (``max_measures``: the
    scenario's ``plans.max_measures``, from which the plans' templates are enumerated again)."""
    packed = path.read_bytes()
    data = pa.decompress(packed[_HEAD:], decompressed_size=int.from_bytes(packed[:_HEAD], "little"), codec=_CODEC)
    size = int.from_bytes(data[:_HEAD].to_pybytes(), "little")
    head = json.loads(data[_HEAD : _HEAD + size].to_pybytes())
    at = _HEAD + size
    read: dict[str, pa.Table] = {}
    for name, n in head["streams"]:
        read[name] = pa.ipc.open_stream(data[at : at + n]).read_all()
        at += n

    def frames(prefix: str) -> dict[str, pd.DataFrame | np.ndarray]:
        out: dict[str, pd.DataFrame | np.ndarray] = {}
        for name, table in read.items():
            if name.startswith(prefix):
                out[name.removeprefix(prefix)] = table.to_pandas() if table.schema.pandas_metadata else table.column("a").to_numpy(zero_copy_only=False)
        return out

    tables = frames("instance.")
    tree, _ = build_tree(tables["regions"])  # type: ignore[arg-type]
    rules, _ = parse_eligibility(tables["measures"])  # type: ignore[arg-type]
    instance = Instance(**tables, tree=tree, eligibility=rules, **head["instance"])  # type: ignore[arg-type]
    cost = frames("cost.")
    table = read["plans.table"].to_pandas()
    category_cost = sp.csr_matrix((cost["data"], cost["indices"], cost["indptr"]), shape=tuple(head["cost_shape"]))
    plans = Plans(table=table, category_cost=category_cost, templates=build_templates(instance.measures, max_measures))
    index = ModelIndex(**{"plans": table, **frames("index."), **head["index"]})  # type: ignore[arg-type]
    return instance, plans, index


def _text_type(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind))


def _as_json(value: str | dict[str, Any]) -> bool:
    """Whether JSON gives ``value`` back as it is (a dict's keys text, its values text or numbers)."""
    try:
        return bool(json.loads(json.dumps(value)) == value)
    except (TypeError, ValueError):
        return False
