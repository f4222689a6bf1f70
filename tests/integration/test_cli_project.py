"""The project CLI as a user runs it: a subprocess, real files, real exit codes."""

import json

import pandas as pd


def test_init_import_stats_export_end_to_end(cli, tmp_path):
    d = tmp_path / "proj"
    r = cli("init", d, "--task", "single", "--labels", "ham,spam")
    assert r.returncode == 0, r.stderr
    assert (d / "labelloop.toml").is_file() and (d / "labelloop.db").is_file()
    data = tmp_path / "c.csv"
    data.write_text("comment_id,content,cls\nc1,check my channel,spam\nc2,great song,ham\nc3,free gift,spam\n")
    r = cli("import", d, data, "--text-col", "content", "--label-col", "cls", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["inserted"] == 3 and rep["votes"] == 3 and rep["format"] == "csv"
    r = cli("stats", d, "--json")
    st = json.loads(r.stdout)
    assert st["items"] == 3 and st["votes"] == 3 and st["labels"] == {"spam": 2, "ham": 1}
    assert st["sources"][0]["name"] == "import:c" and st["sources"][0]["kind"] == "import"
    r = cli("stats", d)
    assert r.returncode == 0 and "imbalance ratio 2.0" in r.stdout
    out = tmp_path / "labels.jsonl"
    r = cli("export", d, out, "--votes")
    assert r.returncode == 0, r.stderr
    rows = pd.read_json(out, lines=True)
    assert rows.id.tolist() == ["c1", "c2", "c3"]
    assert [v[0]["label"] for v in rows.votes] == ["spam", "ham", "spam"]


def test_user_mistakes_get_one_line_errors_not_tracebacks(cli, tmp_path):
    d = tmp_path / "proj"
    assert cli("init", d).returncode == 0
    r = cli("init", d)
    assert r.returncode != 0 and "already a labelloop project" in r.stderr
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"id,text\n1,ok\n2,caf\xe9\n")
    r = cli("import", d, bad)
    assert r.returncode == 2
    assert "bad.csv:3: invalid UTF-8" in r.stderr and "Traceback" not in r.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    r = cli("import", d, empty)
    assert r.returncode == 2 and "empty" in r.stderr and "Traceback" not in r.stderr
    r = cli("import", d, tmp_path / "missing.csv")
    assert r.returncode == 2 and "no such file" in r.stderr
    r = cli("import", d, bad, "--text-col", "nope")
    assert r.returncode == 2 and "'nope' not found" in r.stderr
    r = cli("stats", tmp_path / "not-a-project")
    assert r.returncode == 2 and "not a labelloop project" in r.stderr
    r = cli("init", tmp_path / "p2", "--task", "sideways")
    assert r.returncode == 2 and "single" in r.stderr
    r = cli("export", d, tmp_path / "x.xlsx")
    assert r.returncode == 2 and "--format" in r.stderr
    assert json.loads(cli("stats", d, "--json").stdout)["items"] == 0


def test_taxonomy_check(cli, tmp_path, shared_data):
    r = cli("taxonomy", "check", shared_data / "madewithml" / "tags.json", "--expand", "active-learning", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["tags"] >= 325 and out["expanded"] == ["active-learning", "semi-supervised-learning"]
    cyc = tmp_path / "cyc.json"
    cyc.write_text(json.dumps([{"tag": "a", "parents": ["b"]}, {"tag": "b", "parents": ["a"]}]))
    r = cli("taxonomy", "check", cyc)
    assert r.returncode == 2 and "cycle" in r.stderr and "a -> b -> a" in r.stderr


def test_postgres_project_via_db_url(cli, tmp_path, postgres_url, shared_data):
    d = tmp_path / "pg"
    r = cli("init", d, "--db", postgres_url, "--task", "multi", "--name", "mwm-pg")
    assert r.returncode == 0, r.stderr
    mwm = shared_data / "madewithml"
    r = cli("import", d, mwm / "projects.json", "--taxonomy", mwm / "tags.json", "--json")
    assert r.returncode == 0, r.stderr
    st = json.loads(cli("stats", d, "--json").stdout)
    assert st["items"] == 2029
    assert st["labels"]["semi-supervised-learning"] >= st["labels"].get("active-learning", 0) > 0


def test_every_command_has_help_with_an_example(cli):
    for cmd in (["init"], ["import"], ["export"], ["stats"], ["taxonomy", "check"], ["demo"]):
        r = cli(*cmd, "--help")
        assert r.returncode == 0, (cmd, r.stderr)
        assert "labelloop " in r.stdout, cmd


def test_python_dash_m_and_version(cli):
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("labelloop ")


def test_demo_runs_to_the_end(cli, tmp_path, shared_data):
    r = cli("demo", tmp_path / "demo", "--madewithml", shared_data / "madewithml" / "projects.json", "--headless", timeout=600)
    assert r.returncode == 0, r.stderr
    assert "demo finished" in r.stdout
    digits = pd.read_csv(tmp_path / "demo" / "digits-labels.csv")
    assert len(digits) == 1797
    assert json.loads(cli("stats", tmp_path / "demo" / "madewithml", "--json").stdout)["items"] == 2029


def test_madewithml_from_a_url(cli, tmp_path, shared_data):
    """projects.json and tags.json served over HTTP (a local server standing in for the web)."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(shared_data / "madewithml"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        d = tmp_path / "p"
        assert cli("init", d, "--task", "multi").returncode == 0
        r = cli("import", d, f"{base}/projects.json", "--format", "madewithml", "--taxonomy", f"{base}/tags.json", "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["inserted"] == 2029
        r = cli("import", d, f"{base}/missing.json", "--format", "madewithml")
        assert r.returncode == 2 and "cannot download" in r.stderr
    finally:
        server.shutdown()
