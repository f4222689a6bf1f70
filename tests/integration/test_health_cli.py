"""Dataset health on real projects, through the CLI: errors into the review queue, the HTML
report, and the report opened in a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def planted(tmp_path_factory, shared_data):
    """A Made With ML project (764 items) with 40 labels moved to another class."""
    from conftest import run_cli

    tmp = tmp_path_factory.mktemp("health")
    df = pd.read_csv(shared_data / "madewithml" / "dataset.csv")
    rng = np.random.default_rng(0)
    classes = sorted(df.tag.unique())
    flip = rng.choice(len(df), 40, replace=False)
    for i in flip:
        others = [c for c in classes if c != df.at[i, "tag"]]
        df.at[i, "tag"] = others[rng.integers(len(others))]
    csv = tmp / "planted.csv"
    df.to_csv(csv, index=False)
    d = tmp / "proj"
    assert run_cli("init", d, "--task", "single").returncode == 0
    r = run_cli("import", d, csv, "--text-col", "title,description", "--label-col", "tag")
    assert r.returncode == 0, r.stderr
    return d, {str(x) for x in df.id.iloc[flip]}


@pytest.mark.slow
def test_errors_json_finds_planted_flips_and_fills_review_queue(cli, planted):
    d, flipped = planted
    r = cli("errors", d, "--top", "60", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["n_items"] == 764
    sus = out["suspects"]
    assert len(sus) == 60
    assert [s["rank"] for s in sus] == list(range(1, 61))
    assert all(a["score"] >= b["score"] for a, b in zip(sus, sus[1:], strict=False))
    flagged = {s["external_id"] for s in sus if s["is_error"]}
    assert out["n_flagged"] == len(flagged) > 0
    precision = len(flagged & flipped) / len(flagged)
    top40 = {s["external_id"] for s in sus[:40]}
    assert precision >= 0.6
    assert len(top40 & flipped) >= 15  # random ranking would catch about 2
    assert out["queued"] == out["n_flagged"]
    # the suspects are first in the review queue, with the error-review reason
    from labelloop.project import Project
    from labelloop.store.models import Item

    with Project.open(d) as proj, proj.session() as s:
        rows = s.query(Item.external_id, Item.priority, Item.priority_reason).filter(Item.priority_reason == "error-review").all()
    assert {r.external_id for r in rows} == flagged
    by_id = {s_["external_id"]: s_["score"] for s_ in sus}
    for r_ in rows:
        assert r_.priority == pytest.approx(by_id[r_.external_id])


@pytest.mark.slow
def test_errors_table_and_no_queue(cli, tmp_path, shared_data):
    df = pd.read_csv(shared_data / "madewithml" / "dataset.csv").head(120)
    csv = tmp_path / "small.csv"
    df.to_csv(csv, index=False)
    d = tmp_path / "small"
    assert cli("init", d).returncode == 0
    assert cli("import", d, csv, "--text-col", "title,description", "--label-col", "tag").returncode == 0
    r = cli("errors", d, "--top", "3", "--no-queue")
    assert r.returncode == 0, r.stderr
    assert "of 120 labelled items flagged" in r.stdout
    assert "review queue" not in r.stdout
    from labelloop.project import Project
    from labelloop.store.models import Item

    with Project.open(d) as proj, proj.session() as s:
        assert s.query(Item).filter(Item.priority_reason == "error-review").count() == 0


def test_errors_on_a_project_without_labels_is_one_line(cli, tmp_path):
    d = tmp_path / "p"
    assert cli("init", d).returncode == 0
    r = cli("errors", d)
    assert r.returncode == 2
    assert "labelled items" in r.stderr and "Traceback" not in r.stderr
    r = cli("report", tmp_path / "nope")
    assert r.returncode == 2 and "not a labelloop project" in r.stderr


def _sections(html: str) -> dict[str, str]:
    return dict(re.findall(r'<section id="(\w+)" data-state="(\w+)">', html))


@pytest.fixture(scope="module")
def report_html(planted):
    from conftest import run_cli

    d, _ = planted
    out = d / "health.html"
    r = run_cli("report", d, "--out", out, "--top", "15")
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.slow
def test_report_is_self_contained_with_plots(report_html):
    html = report_html.read_text()
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from the network
    assert "<script" not in html
    secs = _sections(html)
    assert list(secs) == ["overview", "classes", "confusion", "errors", "outliers", "lfs", "curve", "annotators", "duplicates", "leakage"]
    for key in ("overview", "classes", "confusion", "errors", "outliers"):
        assert secs[key] == "filled", key
    # sections without data say why
    assert secs["lfs"] == "empty" and "no labeling-function votes" in html
    assert secs["annotators"] == "empty" and "two or more annotators" in html
    assert secs["leakage"] == "empty" and "no train and test split" in html
    assert html.count('src="data:image/png;base64,') >= 3
    assert html.count("<tr>") >= 15


def _chromium() -> str:
    if not os.path.exists(CHROMIUM):
        apt = shutil.which("apt-get")
        if apt and os.geteuid() == 0:
            import subprocess

            subprocess.run([apt, "install", "-y", "-qq", "chromium"], capture_output=True, timeout=600)
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed at /usr/bin/chromium and could not be installed (run make system-deps)")
    return CHROMIUM


@pytest.mark.slow
@pytest.mark.browser
def test_report_renders_in_chromium(report_html):
    exe = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            failed = []
            page.on("requestfailed", lambda req: failed.append(req.url))
            page.goto(Path(report_html).as_uri())
            page.wait_for_load_state("load")
            assert "dataset health" in page.title()
            plots = page.evaluate(
                "Array.from(document.querySelectorAll('img.plot')).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight, i.getBoundingClientRect().width])"
            )
            alts = [p_[0] for p_ in plots]
            assert {"class distribution", "confusion matrix", "suspicion scores"} <= set(alts)
            for alt, complete, w, h, shown in plots:
                assert complete and w > 100 and h > 100 and shown > 100, alt
            assert page.locator("section#errors table.errors tbody tr").count() == 15
            assert page.locator("section#annotators .empty").is_visible()
            nav = page.locator("nav a")
            assert nav.count() == 10
            page.locator("nav a", has_text="Suspected label errors").click()
            assert page.locator("section#errors").is_visible()
            assert failed == []
        finally:
            browser.close()


@pytest.mark.slow
def test_report_of_crowd_answers_without_text(cli, tmp_path, shared_data):
    """Items with several answers and no content: annotators and answer-based errors are filled,
    the sections that need features say why they are empty."""
    d = tmp_path / "dog"
    assert cli("init", d, "--task", "single").returncode == 0
    r = cli("import", d, shared_data / "crowd" / "dog" / "answer.csv", "--format", "answers")
    assert r.returncode == 0, r.stderr
    r = cli("report", d)
    assert r.returncode == 0, r.stderr
    html = (d / "report.html").read_text()
    secs = _sections(html)
    assert secs["annotators"] == "filled" and 'alt="annotator skills"' in html
    assert secs["classes"] == "filled"
    # no content: label errors come from the answers alone (majority label vs Dawid-Skene)
    assert secs["errors"] == "filled" and "the answers of several annotators" in html
    assert secs["outliers"] == "empty" and secs["confusion"] == "empty"


@pytest.mark.slow
def test_errors_on_a_multilabel_project(cli, tmp_path, shared_data):
    df = pd.read_csv(shared_data / "madewithml" / "dataset.csv").head(200)
    df["tags"] = df["tag"]
    moved = df.index[df.tag == "computer-vision"][:6]
    df.loc[moved, "tags"] = "natural-language-processing"  # six projects lose their tag for another
    csv = tmp_path / "multi.csv"
    df.drop(columns=["tag"]).to_csv(csv, index=False)
    d = tmp_path / "multi"
    assert cli("init", d, "--task", "multi").returncode == 0
    r = cli("import", d, csv, "--text-col", "title,description", "--label-col", "tags")
    assert r.returncode == 0, r.stderr
    r = cli("errors", d, "--json", "--top", "200", "--no-queue")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["n_items"] == 200
    sus = {s["external_id"]: s for s in out["suspects"]}
    assert all(isinstance(s["given_label"], list) and isinstance(s["issues"], list) for s in sus.values())
    for s in sus.values():
        if s["is_error"]:
            assert s["issues"] and all(i[0] in "+-" for i in s["issues"])
    ids = [str(x) for x in df.id[moved]]
    top = [s["external_id"] for s in out["suspects"][:30]]
    assert len(set(ids) & set(top)) >= 3
    r = cli("errors", d, "--top", "3", "--no-queue")
    assert r.returncode == 0 and "change" in r.stdout


def test_leakage_section_finds_a_test_item_repeated_from_train(cli, tmp_path):
    from labelloop.project import Project
    from labelloop.report import build_report

    csv = tmp_path / "split.csv"
    csv.write_text(
        "id,text,label,split\n1,the cat sat on the mat,a,train\n2,dogs bark loudly at night,b,train\n"
        "3,the cat sat on the mat,a,test\n4,birds sing in the morning,b,test\n5,fish swim in the sea,a,train\n"
    )
    d = tmp_path / "p"
    assert cli("init", d).returncode == 0
    assert cli("import", d, csv, "--text-col", "text", "--label-col", "label").returncode == 0
    with Project.open(d) as proj:
        out = build_report(proj, tmp_path / "r.html", sections=["leakage", "errors"])
    html = out.read_text()
    assert _sections(html) == {"leakage": "filled", "errors": "empty"}
    assert "1 of 2 test items repeat a train item" in html
    assert re.search(r"<td>3</td><td>1</td><td>exact</td>", html)
    assert "needs at least 10" in html  # too few labels for error detection: the section says so


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_errors_requeue_sends_suspects_back_through_the_queue(cli, tmp_path, shared_data, request, backend):
    """`errors --requeue`: the most suspect flagged items get 2 more answers asked, and a fresh
    annotator's /next serves them first, most suspect first."""
    import uuid

    df = pd.read_csv(shared_data / "madewithml" / "dataset.csv").head(150).copy()
    rng = np.random.default_rng(1)
    classes = sorted(df.tag.unique())
    for i in rng.choice(len(df), 12, replace=False):
        df.at[i, "tag"] = [c for c in classes if c != df.at[i, "tag"]][rng.integers(len(classes) - 1)]
    csv = tmp_path / "small.csv"
    df.to_csv(csv, index=False)
    d = tmp_path / f"rq{uuid.uuid4().hex[:8]}"
    db = [] if backend == "sqlite" else ["--db", request.getfixturevalue("postgres_url")]
    assert cli("init", d, "--task", "single", *db).returncode == 0
    assert cli("import", d, csv, "--text-col", "title,description", "--label-col", "tag").returncode == 0
    # options that only make sense with --requeue are refused with a clear message
    r = cli("errors", d, "--min-score", "0.5")
    assert r.returncode == 2 and "only apply with --requeue" in r.stderr
    r = cli("errors", d, "--requeue", "--extra-overlap", "0")
    assert r.returncode == 2 and "--extra-overlap" in r.stderr

    r = cli("errors", d, "--requeue", "--top", "4", "--extra-overlap", "2", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    flagged = [s for s in out["suspects"] if s["is_error"]]  # --top 4 shows the 4 most suspect
    assert len(flagged) == 4
    want = [s["item_id"] for s in flagged]
    assert out["requeued"] == {"requeued": 4, "gold_skipped": 0, "open": 4} and out["extra_answers"] == 2

    from labelloop.project import Project
    from labelloop.store.models import Item
    from labelloop.store.users import add_user

    with Project.open(d) as proj:
        with proj.session() as s:
            rows = {i.id: i for i in s.query(Item).filter(Item.priority_reason == "error-relabel")}
            add_user(s, f"{d.name}-ann", "annotator", "password-123")
        assert set(rows) == set(want)
        # imported labels are not queue answers: 0 answers + 2 asked = overlap 1 + 1 review slot
        assert all(r_.q_review == 1 and r_.q_open for r_ in rows.values())
        # the other flagged items stay suspects on the review page
        with proj.session() as s:
            rest = {i.id for i in s.query(Item).filter(Item.priority_reason == "error-review")}
        assert len(rest) == out["n_flagged"] - 4 and not rest & set(want)
    from fastapi.testclient import TestClient

    from labelloop.server import ServerSettings, create_app

    with TestClient(create_app(ServerSettings(projects=[d], worker=False, seed=7))) as c:
        tok = c.post("/api/v1/auth/token", data={"username": f"{d.name}-ann", "password": "password-123"}).json()["access_token"]
        h = {"Authorization": f"Bearer {tok}"}
        served = []
        for _ in range(5):
            iid = c.get(f"/api/v1/projects/{d.name}/next", headers=h).json()["item_id"]
            assert c.post(f"/api/v1/projects/{d.name}/answers", headers=h, json={"item_id": iid, "label": classes[0]}).status_code == 201
            served.append(iid)
    assert served[:4] == want and served[4] not in want
