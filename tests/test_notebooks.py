"""The notebooks run top to bottom (as analysts would run them): on the sample data, what_if.ipynb on generated data
unless the slow marker is asked for."""

from __future__ import annotations

import time

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert {p.name for p in NOTEBOOKS} >= {"what_if.ipynb", "explore_results.ipynb", "deadline.ipynb"}


# what_if.ipynb solves the 20,000-household sample five times (91 s on a slow day, the default suite then close to
# its 15 minutes): the default suite runs it on generated data through its DATA parameter, the slow marker on the sample
CASES = [pytest.param(p, "generated", id=p.stem) if p.stem == "what_if" else pytest.param(p, None, id=p.stem) for p in NOTEBOOKS]
CASES += [pytest.param(ROOT / "notebooks" / "what_if.ipynb", None, id="what_if-sample", marks=pytest.mark.slow)]


@pytest.mark.parametrize(("path", "data"), CASES)
def test_notebook_runs(path, data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    nb = nbformat.read(path, as_version=4)
    if data is not None:
        from optimizer.generate import generate

        generate(3000, seed=3, out=tmp_path / "data")
        (params,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        params.source += f"\nDATA = {str(tmp_path / 'data')!r}"
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    print(f"{path.name}: {time.perf_counter() - start:.0f} s")
