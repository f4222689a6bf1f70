"""CLI of the server area: user add/list, configure, worker --once, serve --help."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_user_configure_worker(tmp_path, cli):
    d = tmp_path / "p"
    assert cli("init", d, "--labels", "a,b").returncode == 0
    (tmp_path / "items.csv").write_text("id,text\n1,hello\n2,world\n")
    assert cli("import", d, tmp_path / "items.csv").returncode == 0
    r = cli("user", "add", d, "alice", "--role", "annotator", "--password", "long-enough-1")
    assert r.returncode == 0 and "created" in r.stdout
    r = cli("user", "add", d, "alice", "--password", "long-enough-1")
    assert r.returncode != 0 and "already exists" in r.stderr and "Traceback" not in r.stderr
    r = cli("user", "add", d, "dave", "--role", "reviewer", input="pw-from-prompt\npw-from-prompt\n")
    assert r.returncode == 0, r.stderr
    r = cli("user", "list", d, "--json")
    assert {u["name"]: u["role"] for u in json.loads(r.stdout)} == {"alice": "annotator", "dave": "reviewer"}
    r = cli("configure", d, "--overlap", "3", "--honeypot-rate", "0.1", "--lease-seconds", "120", "--blind", "--no-worker-loop", "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert (got["overlap"], got["honeypot_rate"], got["lease_seconds"], got["blind"]) == (3, 0.1, 120, True)
    r = cli("configure", d, "--honeypot-rate", "2")
    assert r.returncode != 0 and "honeypot_rate" in r.stderr
    r = cli("worker", d, "--once")
    assert r.returncode == 0 and r.stdout.startswith("done"), r.stdout + r.stderr
    r = cli("serve", tmp_path / "nothing")
    assert r.returncode != 0 and "not a labelloop project" in r.stderr
