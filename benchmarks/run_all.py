"""Run every benchmark in this folder, one after another (``make bench``).

Each benchmark is also runnable on its own; see BENCHMARKS.md for the command, the machine and
the figures. Benchmarks that compare against another tool install it into their own virtual
environment on first use.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (script, arguments) in the order they run; quick ones first.
BENCHMARKS: list[tuple[str, list[str]]] = [
    ("import_scale.py", []),
    ("aggregate_crowdkit.py", []),
    ("embeddings.py", []),
    ("weak_youtube.py", []),
    ("weak_madewithml.py", []),
    ("active_learning.py", ["--seeds", "10", "--jobs", "2"]),  # seeds in parallel, one per core
    # the same figure on 100 seeds, each run stopped once it reaches the target
    ("active_learning.py", ["--seeds", "100", "--jobs", "2", "--stop", "--strategies", "margin,hybrid,balanced,influence",
                            "--semi-strategies", "influence", "--out", "active_learning_100"]),
    ("replay_crowd.py", ["--seeds", "5"]),
    ("label_errors.py", ["--seeds", "5"]),
    ("server_load.py", ["--db", "sqlite,postgres", "--clients", "1,8,32", "--seconds", "15"]),
]


def main() -> int:
    failed = []
    for script, args in BENCHMARKS:
        path = HERE / script
        if not path.exists():
            print(f"== {script}: missing", flush=True)
            failed.append(script)
            continue
        print(f"== {script} {' '.join(args)}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(path), *args])
        print(f"== {script}: exit {rc} after {time.perf_counter() - t0:.0f} s", flush=True)
        if rc != 0:
            failed.append(script)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
