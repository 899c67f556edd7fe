"""Benchmark of the streaming generator (issue 8): wall time, peak memory and size on disk of
``optimizer generate --partitioned`` at several sizes, each in a fresh process, with the national shape
(``--national``: about 60 households per village and 10,700 per county, 31 provinces). For contrast, the
in-memory generator (``generate``, six CSV files) at ``--in-memory`` sizes, also in fresh processes.
Usage: python bench/generate_bench.py [--sizes 1000000 30000000] [--in-memory 1000000] [--out-dir /tmp/gen]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results_io import write_results  # noqa: E402

CHILD = """
import json, resource, sys, time
from pathlib import Path
from optimizer.generate import NATIONAL, generate, generate_partitioned
n, out, mode = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
t = time.perf_counter()
if mode == "partitioned":
    counts = generate_partitioned(n, out, seed=7, provinces=31, shape=NATIONAL)
else:
    counts = {k: len(v) for k, v in generate(n, seed=7, provinces=31, out=out).items()}
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, **counts}))
"""


def run(n: int, mode: str, out_dir: Path, keep: bool) -> dict[str, object]:
    out = out_dir / f"{mode}-{n}"
    proc = subprocess.run([sys.executable, "-c", CHILD, str(n), str(out), mode], capture_output=True, text=True, check=True)
    row = {"mode": mode, "households_requested": n, **json.loads(proc.stdout.strip().splitlines()[-1])}
    files = [p for p in out.rglob("*") if p.is_file()]
    row["files"] = len(files)
    row["disk_gib"] = sum(p.stat().st_size for p in files) / 2**30
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 30_000_000])
    parser.add_argument("--in-memory", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--out-dir", type=Path, default=Path("/tmp/generate_bench"))
    parser.add_argument("--keep", action="store_true", help="keep the generated folders")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for mode, sizes in (("partitioned", args.sizes), ("in_memory", args.in_memory)):
        for n in sizes:
            print(f"--- {mode} {n:,}", flush=True)
            rows.append(run(n, mode, args.out_dir, args.keep))
            print(json.dumps(rows[-1], indent=1), flush=True)
    df = pd.DataFrame(rows)
    lines = ["| generator | households | regions | time (s) | peak RSS (GiB) | files | on disk (GiB) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in df.to_dict("records"):
        lines.append(
            f"| {str(r['mode']).replace('_', '-')} | {r['households']:,} | {r['regions']:,} | {r['seconds']:.1f} | {r['peak_rss_gib']:.2f} "
            f"| {r['files']:,} | {r['disk_gib']:.2f} |"
        )
    write_results(df, args.out, "generate", lines)


if __name__ == "__main__":
    main()
