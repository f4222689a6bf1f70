"""Import at scale: a generated CSV of N rows through `labelloop import`, bounded memory.

Runs the CLI in a subprocess for 100k and 1M rows (20-word texts, 4 labels) and reports rows/s
and the child's peak RSS. Bounded memory means the peak hardly grows from 100k to 1M rows.

    python benchmarks/import_scale.py [--rows 100000 1000000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORDS = "label data model loop crowd vote tag image text spam ham song video check great nice channel free gift love".split()


def make_csv(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text", "label"])
        for i in range(n):
            w.writerow([f"r{i}", " ".join(rng.choices(WORDS, k=20)), rng.choice("abcd")])


def run_import(csv_path: Path, project: Path, db: str | None) -> dict:
    env = {**os.environ, "LABELLOOP_QUIET": "1"}
    cmd = [sys.executable, "-m", "labelloop"]
    init = cmd + ["init", str(project), "--task", "single", "--name", project.name] + (["--db", db] if db else [])
    subprocess.run(init, check=True, env=env, capture_output=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    # a fresh interpreter per import so ru_maxrss of the child is its own peak
    code = (
        "import resource,sys,json,runpy;"
        "sys.argv=['labelloop','import',sys.argv[1],sys.argv[2],'--json'];"
        "import labelloop.cli as c\n"
        "try:\n c.app(standalone_mode=False)\nexcept SystemExit: pass\n"
        "print(json.dumps({'peak_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), file=sys.stderr)"
    )
    p = subprocess.run([sys.executable, "-c", code, str(project), str(csv_path)], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(p.stderr)
    report = json.loads(p.stdout[p.stdout.index("{"):])
    peak = json.loads(p.stderr.strip().splitlines()[-1])["peak_kb"]
    del before
    return {"rows": report["rows"], "seconds": round(wall, 2), "rows_per_s": round(report["rows"] / wall), "peak_rss_mb": round(peak / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--db", default=None, help="database URL (default: SQLite in the project folder)")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.rows:
            f = Path(tmp) / f"rows{n}.csv"
            make_csv(f, n)
            r = run_import(f, Path(tmp) / f"p{n}", args.db)
            r["file_mb"] = round(f.stat().st_size / 2**20, 1)
            results.append(r)
            print(json.dumps(r), flush=True)
    out = {"machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}", "db": args.db or "sqlite", "results": results}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "import_scale.json").write_text(json.dumps(out, indent=2))
    print("| rows | file | time | rows/s | peak RSS |\n|---|---|---|---|---|")
    for r in results:
        print(f"| {r['rows']:,} | {r['file_mb']} MB | {r['seconds']} s | {r['rows_per_s']:,} | {r['peak_rss_mb']} MB |")


if __name__ == "__main__":
    main()
