"""The multi-year model (2016-2020) decomposed by county against the monolithic multi-year model (issues 8 and 10):
``bench/decompose_bench.py`` with the multi-year defaults (``--years 2016 2020``, relocation 5% per county and year,
gap 0.5%, 2 workers, the monolithic model up to 20,000 households; results ``bench/results/decompose_years.*``).
Any option of that script may be given, e.g.

    .venv/bin/python bench/decompose_years_bench.py --sizes 100000 --monolithic-up-to 0 --name my100k
"""

from __future__ import annotations

from decompose_bench import main

if __name__ == "__main__":
    main({"years": [2016, 2020], "gap": 0.005, "sizes": [20_000], "workers": [2], "monolithic_up_to": 20_000, "name": "decompose_years"})
