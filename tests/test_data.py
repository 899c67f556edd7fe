"""Loading input folders. Every bad folder is a case of the bad-input corpus (tests/bad_inputs/cases.yaml,
run through the command line by test_bad_inputs.py); here: what must load, and the loader's own options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_tables
from optimizer.data import build_instance, equal_pairs, isin, load_instance
from optimizer.errors import InputError
from optimizer.inputs import TableRows


def _write(tmp: Path, tables: dict[str, pd.DataFrame]) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_csv(tmp / f"{name}.csv", index=False)
    return tmp


def test_good_folder_loads(tmp_path: Path) -> None:
    inst = load_instance(_write(tmp_path / "data", tiny_tables()))
    assert inst.n_households == 5
    assert list(inst.tree.ancestor_ids(inst.tree.pos(["V1"]), 3)) == ["X1"]


def test_a_parquet_list_column_is_the_text_list_a_csv_cell_holds(tmp_path: Path) -> None:
    """A fund's categories written as a Parquet list<string> (pandas writes a column of lists so) were read as
    "['industry']" and refused as unknown values in a flat folder, and refused by a cast naming no column in a
    partitioned one (fuzzing pass 8): the items are joined as a CSV cell joins them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    plain = load_instance(_write(tmp_path / "csv", tiny_tables()))
    folder = _write(tmp_path / "pq", tiny_tables())
    funds = pd.read_csv(folder / "funds.csv", dtype=str, keep_default_na=False)
    table = pa.Table.from_pandas(funds.drop(columns=["categories"]), preserve_index=False)
    table = table.append_column("categories", pa.array([c.split(";") for c in funds["categories"]], type=pa.list_(pa.string())))
    pq.write_table(table, folder / "funds.parquet")
    (folder / "funds.csv").unlink()
    assert load_instance(folder).funds["categories"].tolist() == plain.funds["categories"].tolist()


def test_numeric_region_codes_written_as_floats_read_as_whole_numbers(tmp_path: Path) -> None:
    """pandas writes numeric region codes as floats when a column has a gap (the root's empty parent): they were
    read as "100000.0" and refused as "unknown parent '100000.0'" (fuzzing pass 8). They read as the integer
    codes a CSV gives."""
    tables = tiny_tables()
    code = {rid: 100000 + i for i, rid in enumerate(tables["regions"]["region_id"])}
    columns = {"regions": ["region_id", "parent_id"], "households": ["village_id"], "projects": ["village_id"], "funds": ["region_id"], "helpers": ["home_region_id"]}
    for name, cols in columns.items():
        for col in cols:
            tables[name][col] = tables[name][col].map(lambda v: code.get(v, np.nan)).astype(float)
    tables["funds"]["targets"] = tables["funds"]["targets"].map(lambda v: str(code[v]) if v else "")
    as_text = {name: df.astype(object).where(df.notna(), "") for name, df in tables.items()}
    for name, cols in columns.items():
        for col in cols:
            as_text[name][col] = tables[name][col].map(lambda v: "" if np.isnan(v) else str(int(v)))
    plain = load_instance(_write(tmp_path / "csv", as_text))
    folder = tmp_path / "pq"
    folder.mkdir()
    for name, df in tables.items():
        df.to_parquet(folder / f"{name}.parquet", index=False)
    inst = load_instance(folder)
    assert inst.regions["parent_id"].iat[1] == "100000"
    for name in columns:
        pd.testing.assert_frame_equal(getattr(inst, name), getattr(plain, name))


def test_a_parquet_column_named_twice_is_refused_by_name(tmp_path: Path) -> None:
    """A Parquet file with one column name twice got Arrow's "Multiple matches for FieldRef" (fuzzing pass 8); it
    is refused as a CSV header with a repeated name is."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = _write(tmp_path / "pq", tiny_tables())
    hh = pd.read_csv(folder / "households.csv", dtype=str, keep_default_na=False)
    names = list(hh.columns) + ["size"]
    pq.write_table(pa.Table.from_arrays([pa.array(hh[c]) for c in names], names=names), folder / "households.parquet")
    (folder / "households.csv").unlink()
    with pytest.raises(InputError, match=r"households.parquet: column\(s\) 'size' appear more than once"):
        load_instance(folder)


def test_csv_with_carriage_returns_alone_loads(tmp_path: Path) -> None:
    """Lines ended by CR alone (old Mac, some spreadsheet exports) gave an unexpected error (exit 1); they read as the
    same table as with LF or CRLF, and a problem is named on its line."""
    folder = _write(tmp_path / "data", tiny_tables())
    plain = load_instance(folder)
    text = (folder / "households.csv").read_text()
    (folder / "households.csv").write_bytes(text.replace("\n", "\r").encode())
    pd.testing.assert_frame_equal(load_instance(folder).households, plain.households)
    lines = text.split("\n")
    lines[3] = lines[3].replace(lines[3].split(",")[0], lines[1].split(",")[0], 1)  # a duplicated id on line 4
    (folder / "households.csv").write_bytes("\r".join(lines).encode())
    with pytest.raises(InputError, match="households.csv line 4"):
        load_instance(folder)


def test_parquet_is_accepted(tmp_path: Path) -> None:
    folder = tmp_path / "pq"
    folder.mkdir()
    for name, df in tiny_tables().items():
        df.to_parquet(folder / f"{name}.parquet", index=False)
    assert load_instance(folder).n_households == 5


def test_typed_parquet_columns_are_checked_like_text(tmp_path: Path) -> None:
    """Numbers read typed from Parquet skip the text parsing but not the contract: a missing value, a fraction in
    a whole-number column and a value out of range are named by file, line and column, as in a CSV."""
    folder = tmp_path / "pq"
    folder.mkdir()
    tables = tiny_tables()
    hh = tables["households"]
    hh["size"] = hh["size"].astype(float)
    hh.loc[1, "size"] = 2.5
    hh["income_per_capita"] = hh["income_per_capita"].astype(float)
    hh.loc[2, "income_per_capita"] = float("nan")
    hh["labour"] = hh["labour"].astype(int)
    hh.loc[3, "labour"] = -1
    for name, df in tables.items():
        df.to_parquet(folder / f"{name}.parquet", index=False)
    with pytest.raises(InputError) as err:
        load_instance(folder)
    text = str(err.value)
    assert "households.parquet row 2 (household_id=H2)" in text and "column size: not a whole number: '2.5'" in text
    assert "households.parquet row 3" in text and "column income_per_capita: missing value" in text
    assert "households.parquet row 4" in text and "column labour: negative value -1 (must be >= 0)" in text


def test_nulls_in_typed_text_columns_are_empty_cells() -> None:
    """A null in a typed text column (partitioned Parquet and the database hand typed tables to build_instance) is
    an empty cell, as in a CSV: a missing id is named by its row and column, and an enum cell takes its default.
    Before, a null household id passed the checks."""
    tables = tiny_tables()
    hh = tables["households"]
    hh["household_id"] = hh["household_id"].astype("str")
    hh.loc[2, "household_id"] = None
    assert hh["household_id"].isna().iat[2]
    with pytest.raises(InputError) as err:
        build_instance(tables, rows={"households": TableRows("households/ (its files in order)")})
    assert "households/ (its files in order) row 3 (household_id=), column household_id: missing id" in str(err.value)

    tables = tiny_tables()
    helpers = tables["helpers"]
    helpers["reach"] = helpers["reach"].astype("str")
    helpers.loc[0, "reach"] = None
    assert build_instance(tables).helpers["reach"].iat[0] == "county"


@pytest.mark.parametrize(
    ("column", "value"),
    [("head_name", "Zhang San"), ("phone", "13812345678"), ("id_card", "11010519491231002X"), ("note", "110105194912310021")],
)
def test_personal_data_columns_are_dropped_when_allowed(tmp_path: Path, column: str, value: str) -> None:
    """Refused by default (bad-input corpus, data-personal-*); with the explicit permission they are dropped."""
    tables = tiny_tables()
    tables["households"][column] = value
    folder = _write(tmp_path / "data", tables)
    with pytest.raises(InputError, match="personal data"):
        load_instance(folder)
    inst = load_instance(folder, allow_personal_columns=True)
    assert inst.n_households == 5 and column not in inst.households.columns


def test_a_column_the_optimizer_does_not_read_is_named_with_the_one_meant(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A misspelt optional column would silently fall back to its default (no school children, so no education
    floors): the loader warns about every column it ignores and names the contract column it resembles."""
    tables = tiny_tables()
    tables["households"] = tables["households"].rename(columns={"school_children": "school_childrn"}).assign(notes="x")
    with caplog.at_level("WARNING", logger="optimizer.data"):
        inst = load_instance(_write(tmp_path / "data", tables))
    assert int(inst.households["school_children"].sum()) == 0
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "households.csv" in warning and "'school_childrn' (did you mean 'school_children'?)" in warning and "'notes'" in warning


def test_utf8_with_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Spreadsheets save UTF-8 with a byte-order mark; it must not become part of the first column name."""
    folder = _write(tmp_path / "data", tiny_tables())
    path = folder / "regions.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_instance(folder).tree.ids[0] == "CN"


def test_oversized_file_is_refused_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _write(tmp_path / "data", tiny_tables())
    big = folder / "households.csv"
    big.write_bytes(big.read_bytes() * 200)
    read = Path.read_bytes

    def guarded(path: Path) -> bytes:
        assert path.name != big.name, "the oversized file was read"
        return read(path)

    monkeypatch.setattr(Path, "read_bytes", guarded)
    with pytest.raises(InputError, match=r"households.csv: 0.1 MB is larger than the limit of 0.05 MB"):
        load_instance(folder, max_file_mb=0.05)


def test_isin_answers_like_pandas_isin() -> None:
    """The linear-time membership helper gives Series.isin's answer for ids, sets, missing values and mixed types."""
    ids = pd.Series(["H1", "H2", "H3", None, "H2"])
    for allowed in (pd.Series(["H2", "H3", "H3"]), {"H1"}, frozenset(), ["H9", None], pd.Index(["H3"]), np.array(["H1", "H2"], dtype=object)):
        expected = ids.isin(list(allowed) if isinstance(allowed, set | frozenset) else allowed).to_numpy()
        assert np.array_equal(isin(ids, allowed), expected), allowed
    assert list(isin(pd.Series([1, 2, 3]), pd.Series(["1", 2]))) == [False, True, False]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equal_pairs_answers_like_an_inner_merge(seed: int) -> None:
    """The numpy join gives the pairs of pandas' inner merge, in its order, duplicates on both sides included."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 8, size=40), rng.integers(0, 8, size=25)
    i, j = equal_pairs(a, b)
    merged = pd.DataFrame({"k": a, "i": np.arange(len(a))}).merge(pd.DataFrame({"k": b, "j": np.arange(len(b))}), on="k")
    assert len(i) > 0 and np.array_equal(i, merged["i"].to_numpy()) and np.array_equal(j, merged["j"].to_numpy())
    assert len(equal_pairs(a, np.zeros(0, dtype=np.int64))[0]) == 0
