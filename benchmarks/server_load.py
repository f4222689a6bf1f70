"""Load test of the labelling server on loopback (and, with --label-studio, Label Studio 1.23.2).

For each database (SQLite, PostgreSQL) it builds a project of N 20-word text items, times the
import, starts ``labelloop serve`` in its own process, and runs 8 and 32 annotator clients
(threads spread over client processes, keep-alive HTTP) doing next+submit cycles for a fixed
time with overlap 1. It reports answers/s, p50/p99 of next, submit and the whole cycle, the
number of over-assigned items (answered more than once although overlap was 1), and the time
to stream an export of every item's label through the API.

    .venv/bin/python benchmarks/server_load.py            # 100k items, 8 and 32 clients
    .venv/bin/python benchmarks/server_load.py --items 10000 --seconds 10 --label-studio

Raw figures go to benchmarks/results/server_load.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
RESULTS = ROOT / "benchmarks" / "results" / "server_load.json"
PG_ADMIN = os.environ.get("LABELLOOP_TEST_POSTGRES_URL", "postgresql+psycopg://127.0.0.1:5432/test")
PASSWORD = "bench-password-1"
WORDS = ("data label model queue answer server image text class tag review honey pot lease vote skill agree "
         "fast slow good bad red blue green spam ham news sport music film book code test train score").split()


def free_port() -> int:
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(18000, 28000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def write_items(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        for i in range(n):
            w.writerow([f"t{i}", " ".join(rng.choice(WORDS) for _ in range(20))])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to report cost per answer."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def pct(values, q):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]


# ---------------------------------------------------------------------- clients
class _Http:
    """A minimal keep-alive HTTP/1.1 client (stdlib), so the load generator itself stays cheap
    on the CPU it shares with the server under test."""

    def __init__(self, base: str, headers: dict[str, str]):
        import http.client
        from urllib.parse import urlsplit

        u = urlsplit(base)
        self._mk = lambda: http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        self.conn = self._mk()
        self.headers = headers

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        h = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (ConnectionError, OSError):
                if attempt:
                    raise
                self.conn.close()
                self.conn = self._mk()
        raise RuntimeError("unreachable")


def _client_proc(base: str, project: str, tokens: list[str], seconds: float, start_at: float, kind: str, q) -> None:
    out = []
    lock = threading.Lock()

    def annotate(tok):
        recs = []
        if kind == "labelloop":
            c = _Http(base, {"Authorization": "Bearer " + tok})
            nxt, ans = f"/api/v1/projects/{project}/next", f"/api/v1/projects/{project}/answers"
        else:
            c = _Http(base, {"Authorization": "Token " + tok})
            nxt = f"/api/projects/{project}/next"
        while time.time() < start_at:
            time.sleep(0.005)
        end = start_at + seconds
        while time.time() < end:
            t0 = time.perf_counter()
            status, body = c.request("GET", nxt)
            t1 = time.perf_counter()
            if kind == "labelloop":
                if status == 204:
                    break
                if status != 200:
                    recs.append(("error", status, 0, 0))
                    continue
                iid = json.loads(body)["item_id"]
                st2, _ = c.request("POST", ans, {"item_id": iid, "label": random.choice(("ham", "spam"))})
            else:
                if status != 200:
                    break
                iid = json.loads(body)["id"]
                st2, _ = c.request("POST", f"/api/tasks/{iid}/annotations/", {
                    "result": [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [random.choice(("ham", "spam"))]}}],
                    "lead_time": 1.0,
                })
            t2 = time.perf_counter()
            recs.append(("ok" if st2 in (200, 201) else "error", iid if st2 in (200, 201) else st2, t1 - t0, t2 - t1))
        with lock:
            out.extend(recs)

    threads = [threading.Thread(target=annotate, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q.put(out)


def run_clients(base: str, project: str, tokens: list[str], seconds: float, kind: str = "labelloop") -> dict:
    n_proc = min(len(tokens), 4)
    groups = [tokens[i::n_proc] for i in range(n_proc)]
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    start_at = time.time() + 3.0
    procs = [ctx.Process(target=_client_proc, args=(base, project, g, seconds, start_at, kind, q)) for g in groups]
    for p in procs:
        p.start()
    recs = []
    for _ in procs:
        recs.extend(q.get(timeout=seconds + 600))
    for p in procs:
        p.join()
    ok = [r for r in recs if r[0] == "ok"]
    errors = [r for r in recs if r[0] == "error"]
    nexts = [r[2] * 1000 for r in ok]
    subs = [r[3] * 1000 for r in ok]
    cyc = [(r[2] + r[3]) * 1000 for r in ok]
    return {
        "clients": len(tokens),
        "answers": len(ok),
        "errors": len(errors),
        "error_codes": sorted({r[1] for r in errors}),
        "answers_per_s": len(ok) / seconds,
        "next_ms": {"p50": pct(nexts, 50), "p99": pct(nexts, 99), "max": max(nexts, default=None)},
        "submit_ms": {"p50": pct(subs, 50), "p99": pct(subs, 99), "max": max(subs, default=None)},
        "cycle_ms": {"p50": pct(cyc, 50), "p99": pct(cyc, 99), "max": max(cyc, default=None)},
        "item_ids": [r[1] for r in ok],
    }


# ---------------------------------------------------------------------- labelloop
def labelloop_env() -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""), "LABELLOOP_QUIET": "1"}
    return env


def wait_http(url: str, timeout: float = 120) -> None:
    import httpx

    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


def bench_labelloop(db_kind: str, n_items: int, clients: list[int], seconds: float, csv_path: Path, work: Path) -> dict:
    sys.path.insert(0, str(ROOT / "src"))
    import httpx

    from labelloop.io.importers import import_file
    from labelloop.progress import set_quiet
    from labelloop.project import Project
    from labelloop.store import repo
    from labelloop.store.models import Assignment, Vote
    from labelloop.store.users import add_user

    set_quiet(True)
    db_url, drop = None, None
    if db_kind == "postgres":
        import sqlalchemy as sa

        name = "labelloop_bench_" + uuid.uuid4().hex[:8]
        eng = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        db_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name

        def drop():
            with eng.connect() as c:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            eng.dispose()

    out: dict = {"db": db_kind, "items": n_items, "runs": []}
    try:
        pdir = work / f"proj-{db_kind}"
        proj = Project.init(pdir, name="bench", db=db_url, labels=["ham", "spam"])
        t0 = time.perf_counter()
        rep = import_file(proj, csv_path)
        out["import_s"] = time.perf_counter() - t0
        assert rep.inserted == n_items
        max_clients = max(clients)
        from labelloop.store.users import hash_password

        pw_hash = hash_password(PASSWORD)  # one argon2 hash for every benchmark user
        with proj.session() as s:
            for i in range(max_clients):
                add_user(s, f"ann{i}", "annotator", PASSWORD, pw_hash=pw_hash)
            add_user(s, "admin", "admin", PASSWORD, pw_hash=pw_hash)
        proj.update_settings(overlap=1, honeypot_rate=0.0, lease_seconds=600)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "labelloop", "serve", str(pdir), "--port", str(port), "--no-worker"],
                                  env=labelloop_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_http(base + "/api/v1/health")
            tokens = [httpx.post(base + "/api/v1/auth/token", data={"username": f"ann{i}", "password": PASSWORD}).json()["access_token"]
                      for i in range(max_clients)]
            admin = httpx.post(base + "/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}).json()["access_token"]
            for n in clients:
                c0 = cpu_seconds(server.pid)
                res = run_clients(base, "bench", tokens[:n], seconds)
                res["server_cpu_s"] = cpu_seconds(server.pid) - c0
                res["server_cpu_ms_per_answer"] = 1000 * res["server_cpu_s"] / max(res["answers"], 1)
                ids = res.pop("item_ids")
                res["over_assigned_in_responses"] = len(ids) - len(set(ids))
                out["runs"].append(res)
                print(f"  labelloop {db_kind:8s} {n:2d} clients: {res['answers_per_s']:7.1f} answers/s, cycle p99 {res['cycle_ms']['p99']:.1f} ms, "
                      f"server CPU {res['server_cpu_ms_per_answer']:.2f} ms/answer, errors {res['errors']}", flush=True)
            # correctness after all runs: every item answered at most once (overlap 1)
            from sqlalchemy import func, select

            with proj.session() as s:
                per_item = select(Vote.item_id, func.count().label("n")).where(Vote.project_id == proj.id).group_by(Vote.item_id).subquery()
                out["over_assigned_items"] = int(s.scalar(select(func.count()).select_from(per_item).where(per_item.c.n > 1)) or 0)
                live = select(Assignment.item_id, func.count().label("n")).where(Assignment.project_id == proj.id, Assignment.state.in_(("leased", "done"))).group_by(Assignment.item_id).subquery()
                out["over_leased_items"] = int(s.scalar(select(func.count()).select_from(live).where(live.c.n > 1)) or 0)
                out["answers_stored"] = repo.count_votes(s, proj.id)
            out["answers_acknowledged"] = sum(r["answers"] for r in out["runs"])
            # export: give every item a final label, then stream them all through the API
            import pandas as pd

            with proj.session() as s:
                items = repo.items_frame(s, proj.id)
                frame = pd.DataFrame({"item_id": items["item_id"], "label": ["ham"] * len(items), "confidence": [0.9] * len(items)})
                repo.write_labels(s, proj.id, frame, method="bench")
            t0 = time.perf_counter()
            n_lines = 0
            with httpx.stream("GET", base + "/api/v1/projects/bench/admin/export?format=jsonl", headers={"Authorization": "Bearer " + admin}, timeout=600) as r:
                for line in r.iter_lines():
                    n_lines += bool(line)
            out["export_s"] = time.perf_counter() - t0
            out["export_rows"] = n_lines
            print(f"  labelloop {db_kind:8s} import {out['import_s']:.1f} s, export {n_lines} labels {out['export_s']:.1f} s, "
                  f"over-assigned {out['over_assigned_items']}, acknowledged {out['answers_acknowledged']} stored {out['answers_stored']}", flush=True)
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
        proj.close()
    finally:
        if drop:
            drop()
    return out


# ---------------------------------------------------------------------- Label Studio
LS_VERSION = "1.23.2"
LS_VENV = ROOT / ".bench-venv-labelstudio"


def ensure_label_studio() -> Path:
    exe = LS_VENV / "bin" / "label-studio"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LS_VENV)], check=True)
        subprocess.run([str(LS_VENV / "bin" / "pip"), "install", "-q", f"label-studio=={LS_VERSION}"], check=True)
    return exe


# Run with Label Studio's own interpreter against its database: creates annotator accounts in
# the organisation of the admin created at start-up and prints their API tokens (legacy tokens,
# "Authorization: Token ...", enabled by LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN).
_LS_USERS = """
import json, os, sys
import label_studio
sys.path.insert(0, os.path.dirname(label_studio.__file__))  # its apps import as top-level modules
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings.label_studio")
import django
django.setup()
from organizations.models import Organization
from rest_framework.authtoken.models import Token
from users.models import User
org = Organization.objects.first()
out = []
for i in range(int(sys.argv[1])):
    email = f"annotator{i}@example.com"
    user = User.objects.filter(email=email).first() or User.objects.create_user(email=email, password=sys.argv[2])
    if not org.users.filter(pk=user.pk).exists():
        org.add_user(user)
    user.active_organization = org
    user.save()
    out.append(Token.objects.get_or_create(user=user)[0].key)
print(json.dumps(out))
"""


def label_studio_annotators(env: dict, n: int) -> list[str]:
    """``n`` separate Label Studio annotator accounts; returns one API token per account."""
    p = subprocess.run([str(LS_VENV / "bin" / "python"), "-c", _LS_USERS, str(n), PASSWORD], env=env, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"could not create Label Studio annotator accounts: {p.stderr.strip()[-2000:]}")
    tokens = json.loads(p.stdout.strip().splitlines()[-1])
    if len(set(tokens)) != n:
        raise RuntimeError(f"expected {n} distinct Label Studio tokens, got {len(set(tokens))}")
    return tokens


def bench_label_studio(n_items: int, clients: list[int], seconds: float, csv_path: Path, work: Path) -> dict:
    import httpx

    exe = ensure_label_studio()
    data = work / "ls-data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(data), "DJANGO_DB": "sqlite", "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "false",
           "LABEL_STUDIO_USERNAME": "admin@example.com", "LABEL_STUDIO_PASSWORD": PASSWORD, "LABEL_STUDIO_USER_TOKEN": "benchtoken0123456789abcdef",
           "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true", "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": ""}
    out: dict = {"tool": f"label-studio {LS_VERSION}", "items": n_items, "runs": []}
    server = subprocess.Popen([str(exe), "start", "--no-browser", "--port", str(port), "--host", "127.0.0.1", "--data-dir", str(data)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(base + "/health", timeout=300)
        h = {"Authorization": "Token benchtoken0123456789abcdef"}
        config = '<View><Text name="text" value="$text"/><Choices name="label" toName="text"><Choice value="ham"/><Choice value="spam"/></Choices></View>'
        r = httpx.post(base + "/api/projects", headers=h, json={"title": "bench", "label_config": config, "maximum_annotations": 1}, timeout=60)
        r.raise_for_status()
        pid = r.json()["id"]
        tasks = []
        with csv_path.open() as fh:
            for rec in csv.DictReader(fh):
                tasks.append({"data": {"text": rec["text"], "ext": rec["id"]}})
        t0 = time.perf_counter()
        r = httpx.post(f"{base}/api/projects/{pid}/import", headers=h, json=tasks, timeout=3600)
        r.raise_for_status()
        out["import_s"] = time.perf_counter() - t0
        print(f"  label-studio import {n_items}: {out['import_s']:.1f} s", flush=True)
        # one account per client, as for labelloop: each annotator has its own queue and token
        tokens = label_studio_annotators(env, max(clients))
        for n in clients:
            res = run_clients(base, str(pid), tokens[:n], seconds, kind="label-studio")
            ids = res.pop("item_ids")
            res["over_assigned_in_responses"] = len(ids) - len(set(ids))
            out["runs"].append(res)
            print(f"  label-studio {n:2d} clients: {res['answers_per_s']:7.1f} answers/s, cycle p99 {res['cycle_ms']['p99'] or float('nan'):.1f} ms, "
                  f"tasks answered twice {res['over_assigned_in_responses']}, errors {res['errors']}", flush=True)
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
    return out


def bench_export(n_items: int, work: Path) -> dict:
    """Stream an export of ``n_items`` final labels through the API (SQLite)."""
    sys.path.insert(0, str(ROOT / "src"))
    import httpx
    import pandas as pd

    from labelloop.io.importers import import_file
    from labelloop.progress import set_quiet
    from labelloop.project import Project
    from labelloop.store import repo
    from labelloop.store.users import add_user

    set_quiet(True)
    csv_path = work / "export-items.csv"
    write_items(csv_path, n_items, seed=1)
    proj = Project.init(work / "proj-export", name="export", labels=["ham", "spam"])
    t0 = time.perf_counter()
    import_file(proj, csv_path)
    import_s = time.perf_counter() - t0
    with proj.session() as s:
        ids = repo.items_frame(s, proj.id)["item_id"]
        repo.write_labels(s, proj.id, pd.DataFrame({"item_id": ids, "label": "ham", "confidence": 0.9}), method="bench")
        add_user(s, "admin", "admin", PASSWORD)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "labelloop", "serve", str(proj.dir), "--port", str(port), "--no-worker"],
                              env=labelloop_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(base + "/api/v1/health")
        tok = httpx.post(base + "/api/v1/auth/token", data={"username": "admin", "password": PASSWORD}).json()["access_token"]
        t0 = time.perf_counter()
        n, first = 0, None
        with httpx.stream("GET", base + "/api/v1/projects/export/admin/export?format=jsonl", headers={"Authorization": "Bearer " + tok}, timeout=3600) as r:
            for line in r.iter_lines():
                if line:
                    n += 1
                    if first is None:
                        first = time.perf_counter() - t0
        total = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(30)
    proj.close()
    print(f"  export of {n} labels: first row after {first:.2f} s, all in {total:.1f} s (import of {n_items} items {import_s:.1f} s)", flush=True)
    return {"items": n_items, "rows": n, "first_row_s": first, "export_s": total, "import_s": import_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--clients", default="8,32")
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--db", default="sqlite,postgres")
    ap.add_argument("--label-studio", action="store_true", help=f"also measure Label Studio {LS_VERSION} (own venv)")
    ap.add_argument("--ls-items", type=int, default=10_000)
    ap.add_argument("--export-items", type=int, default=0, help="also stream an export of this many labels (e.g. 1000000)")
    args = ap.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="server-load-", dir=OUT))
    csv_path = work / "items.csv"
    write_items(csv_path, args.items)
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}", "seconds_per_run": args.seconds,
               "labelloop": [], "label_studio": None}
    try:
        for db in [d for d in args.db.split(",") if d]:
            if db not in ("sqlite", "postgres"):
                raise SystemExit(f"--db takes sqlite and/or postgres (comma-separated, or empty), not {db!r}")
            print(f"labelloop on {db}, {args.items} items", flush=True)
            try:
                results["labelloop"].append(bench_labelloop(db, args.items, clients, args.seconds, csv_path, work))
            except Exception as exc:  # e.g. no PostgreSQL on this machine
                print(f"  skipped {db}: {exc.__class__.__name__}: {exc}", flush=True)
        if args.export_items:
            print(f"export of {args.export_items} labels (SQLite)", flush=True)
            results["export"] = bench_export(args.export_items, work)
        if args.label_studio:
            ls_csv = work / "ls-items.csv"
            write_items(ls_csv, args.ls_items)
            print(f"label-studio {LS_VERSION}, {args.ls_items} items", flush=True)
            results["label_studio"] = bench_label_studio(args.ls_items, clients, args.seconds, ls_csv, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if RESULTS.exists():  # keep figures of databases / tools not measured in this run
        old = json.loads(RESULTS.read_text())
        done = {r["db"] for r in results["labelloop"]}
        results["labelloop"] = [r for r in old.get("labelloop", []) if r["db"] not in done] + results["labelloop"]
        if results["label_studio"] is None:
            results["label_studio"] = old.get("label_studio")
        if "export" not in results and "export" in old:
            results["export"] = old["export"]
    RESULTS.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    print("\n| system | db | items | clients | answers/s | next p99 ms | submit p99 ms | cycle p50 / p99 ms | over-assigned | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results["labelloop"]:
        for run in r["runs"]:
            print(f"| labelloop | {r['db']} | {r['items']} | {run['clients']} | {run['answers_per_s']:.0f} | {run['next_ms']['p99']:.1f} | "
                  f"{run['submit_ms']['p99']:.1f} | {run['cycle_ms']['p50']:.1f} / {run['cycle_ms']['p99']:.1f} | {r['over_assigned_items']} | {run['errors']} |")
    ls = results["label_studio"]
    if ls:
        for run in ls["runs"]:
            if run["answers"]:
                print(f"| label-studio | sqlite | {ls['items']} | {run['clients']} | {run['answers_per_s']:.1f} | {run['next_ms']['p99']:.0f} | "
                      f"{run['submit_ms']['p99']:.0f} | {run['cycle_ms']['p50']:.0f} / {run['cycle_ms']['p99']:.0f} | {run['over_assigned_in_responses']} | {run['errors']} |")
    for r in results["labelloop"]:
        print(f"labelloop {r['db']}: import {r['items']} items {r['import_s']:.1f} s; export {r['export_rows']} labels via API {r['export_s']:.1f} s")
    if ls:
        print(f"label-studio: import {ls['items']} tasks {ls.get('import_s', float('nan')):.1f} s")


if __name__ == "__main__":
    main()
