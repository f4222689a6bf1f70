"""The web UI in real Chromium (Playwright): keyboard labelling, tags, honeypot pause, admin.

Screenshots are kept under artifacts/screenshots/ (git-ignored) as test artefacts.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from server_util import PASSWORD, LiveServer, cheap_password_hashing, make_project  # noqa: F401

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("chromium is not installed (make system-deps)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(15000)
    yield pg
    ctx.close()


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def serve(proj):
    from labelloop.server import ServerSettings, create_app

    return LiveServer(create_app(ServerSettings(projects=[proj.dir], worker=False, seed=5)))


def login(page, url, user):
    page.goto(url + "/")
    page.locator("#username").focus()
    page.keyboard.type(user)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")


def wait_item_change(page, old, *, or_paused=False):
    """Wait (CSP-safe: no eval in the page) until another item, or the pause panel, is shown."""
    for _ in range(300):
        if page.locator("#item").get_attribute("data-item-id") != str(old):
            return
        if or_paused and page.locator("#paused").is_visible():
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"item {old} stayed on screen")


def wait_item(page, iid):
    from playwright.sync_api import expect

    expect(page.locator("#item")).to_have_attribute("data-item-id", str(iid))


def human_votes(proj):
    from labelloop.store import repo

    with proj.session() as s:
        v = repo.votes_frame(s, proj.id, kinds=["human"])
    return dict(zip(v["item_id"].astype(int), v["label"], strict=True))


def test_login_and_label_ten_items_by_keyboard(tmp_path, page):
    import numpy as np

    from labelloop.store import repo

    proj, u = make_project(tmp_path, None, n=12, labels=("ham", "spam", "other"))
    with proj.session() as s:  # a model's pre-labels: 'other' on every item
        ids = repo.items_frame(s, proj.id)["item_id"].tolist()
        repo.write_predictions(s, proj.id, "m1", ids, np.tile([0.1, 0.2, 0.7], (len(ids), 1)), ["ham", "spam", "other"])
    with serve(proj) as srv:
        login(page, srv.url, u["alice"])
        page.wait_for_url("**/annotate.html?project=*")
        page.wait_for_selector("#item:not([hidden])")
        assert page.locator(".choice.prefilled").inner_text().endswith("other")
        shot(page, "annotate-single")
        keys = ["Enter", "1", "2", "1", "2", "3", "1", "1", "2", "2"]  # Enter accepts the pre-filled 'other'
        expected = {"Enter": "other", "1": "ham", "2": "spam", "3": "other"}
        answered = []
        for k in keys:
            iid = int(page.locator("#item").get_attribute("data-item-id"))
            page.keyboard.press(k)
            wait_item_change(page, iid)
            answered.append((iid, expected[k]))
        assert page.locator("#progress-text").inner_text().startswith("10 done")
        shot(page, "annotate-after-ten")
        # undo by keyboard brings the last item back, pre-filled with the old answer
        page.keyboard.press("u")
        wait_item(page, answered[-1][0])
        assert page.locator(".choice.prefilled").inner_text().endswith("spam")
        page.keyboard.press("1")
        wait_item_change(page, answered[-1][0])
        answered[-1] = (answered[-1][0], "ham")
    votes = human_votes(proj)
    assert votes == dict(answered)
    proj.close()


def test_multilabel_alias_and_parent_in_the_browser(tmp_path, page):
    from labelloop.schema import Taxonomy

    tax = Taxonomy.from_records([
        {"tag": "machine-learning"},
        {"tag": "natural-language-processing", "aliases": ["nlp"], "parents": ["machine-learning"]},
        {"tag": "computer-vision", "aliases": ["cv"], "parents": ["machine-learning"]},
        {"tag": "tutorial"},
    ])
    texts = ["A transformer tutorial for text classification", "Object detection", "x"]
    proj, u = make_project(tmp_path, None, n=3, task="multi", labels=(), taxonomy=tax, texts=texts)
    with serve(proj) as srv:
        login(page, srv.url, u["alice"])
        page.wait_for_selector("#tag-input:focus")
        iid = int(page.locator("#item").get_attribute("data-item-id"))
        page.keyboard.type("nlp")
        assert "nlp → natural-language-processing" in page.locator("#suggestions").inner_text()
        page.keyboard.press("Enter")
        page.keyboard.type("tuto")
        page.keyboard.press("Tab")
        chips = page.locator(".chip")
        assert sorted(chips.all_inner_texts()) == sorted(["machine-learning", "natural-language-processing×", "tutorial×"])
        assert page.locator(".chip.implied").inner_text() == "machine-learning"
        shot(page, "annotate-multilabel")
        page.keyboard.press("Control+Enter")
        wait_item_change(page, iid)
    assert human_votes(proj)[iid] == ["machine-learning", "natural-language-processing", "tutorial"]
    proj.close()


def test_honeypot_failures_pause_the_annotator(tmp_path, page):
    gold = {f"i{k}": "a" for k in range(8)}
    proj, u = make_project(tmp_path, None, n=20, gold=gold, settings={"honeypot_rate": 0.5, "honeypot_min": 2, "pause_below": 0.5})
    with serve(proj) as srv:
        login(page, srv.url, u["alice"])
        page.wait_for_selector("#item:not([hidden])")
        for _ in range(30):
            if page.locator("#paused").is_visible():
                break
            iid = page.locator("#item").get_attribute("data-item-id")
            page.keyboard.press("2")  # always 'b'; the gold answer is 'a'
            wait_item_change(page, iid, or_paused=True)
        assert page.locator("#paused").is_visible()
        assert "paused" in page.locator("#paused-text").inner_text().lower()
        shot(page, "annotator-paused")
        page.reload()
        page.wait_for_selector("#paused:not([hidden])")
    proj.close()


def test_admin_sees_skills_and_review_queue(tmp_path, page):
    from fastapi.testclient import TestClient  # noqa: F401  (server extra present)

    gold = {"i0": "a", "i1": "a"}
    proj, u = make_project(tmp_path, None, n=8, gold=gold, settings={"honeypot_rate": 0.5, "overlap": 2})
    import httpx

    with serve(proj) as srv:
        base = f"{srv.url}/api/v1/projects/{proj.name}"
        for who, label in (("alice", "a"), ("bob", "b")):
            tok = httpx.post(srv.url + "/api/v1/auth/token", data={"username": u[who], "password": PASSWORD}).json()["access_token"]
            h = {"Authorization": "Bearer " + tok}
            for _ in range(20):
                r = httpx.get(base + "/next", headers=h)
                if r.status_code != 200:
                    break
                httpx.post(base + "/answers", headers=h, json={"item_id": r.json()["item_id"], "label": label})
        login(page, srv.url, u["boss"])
        page.wait_for_selector(".admin-link")
        page.locator(".admin-link").click()
        page.wait_for_selector(f"#annotators tr[data-name='{u['alice']}']")
        alice = page.locator(f"#annotators tr[data-name='{u['alice']}'] .hp-acc").inner_text()
        bob = page.locator(f"#annotators tr[data-name='{u['bob']}'] .hp-acc").inner_text()
        assert alice == "100.0%" and bob == "0.0%"
        assert "pairwise agreement" in page.locator("#agreement").inner_text()
        page.wait_for_selector("#review tbody tr")
        assert "disagreement" in page.locator("#review tbody").inner_text()
        page.locator("#review tbody tr").first.click()
        page.wait_for_selector("#review-item:not([hidden])")
        assert "user:" in page.locator("#review-item").inner_text()
        assert page.locator("#settings-card").is_visible()
        shot(page, "admin-dashboard")
    proj.close()


def test_admin_sends_suspects_back_for_relabelling(tmp_path, page):
    """The review card's button re-queues the suspects flagged by dataset health: each then needs
    more answers and the review row follows its progress."""
    from labelloop.store import repo

    proj, u = make_project(tmp_path, None, n=6)
    with proj.session() as s:
        f = repo.items_frame(s, proj.id)
        ids = dict(zip(f.external_id, f.item_id.astype(int), strict=True))
        repo.set_priorities(s, proj.id, [ids["i2"], ids["i4"]], [0.9, 0.7], "error-review")
    with serve(proj) as srv:
        login(page, srv.url, u["boss"])
        page.wait_for_selector(".admin-link")
        page.locator(".admin-link").click()
        page.wait_for_selector("#review tbody tr")
        assert page.locator("#review tbody").inner_text().count("suspected error") == 2
        page.locator("#requeue-n").fill("3")
        page.locator("#requeue-btn").click()
        page.wait_for_selector("#requeue-msg:has-text('2 item(s) sent back for 3 more answers')")
        page.wait_for_selector("#review tbody:has-text('re-labelling: 0 of 3 answers')")
        shot(page, "admin-requeue")
    with proj.session() as s:
        from labelloop.store.models import Item

        rows = s.query(Item).filter(Item.id.in_([ids["i2"], ids["i4"]])).all()
        assert {(r.priority_reason, r.q_review, r.q_open) for r in rows} == {("error-relabel", 2, True)}
    proj.close()


def test_accept_reject_mode(tmp_path, page):
    import numpy as np

    from labelloop.store import repo

    proj, u = make_project(tmp_path, None, n=3, labels=("ham", "spam"), settings={"mode": "accept_reject"})
    with proj.session() as s:
        ids = repo.items_frame(s, proj.id)["item_id"].tolist()
        repo.write_predictions(s, proj.id, "m1", ids, np.tile([0.9, 0.1], (len(ids), 1)), ["ham", "spam"])
    with serve(proj) as srv:
        login(page, srv.url, u["alice"])
        page.wait_for_selector("#accept-box:not([hidden])")
        assert page.locator("#accept-label").inner_text() == "ham"
        shot(page, "annotate-accept-reject")
        first = int(page.locator("#item").get_attribute("data-item-id"))
        page.keyboard.press("a")  # accept the model's 'ham'
        wait_item_change(page, first)
        second = int(page.locator("#item").get_attribute("data-item-id"))
        page.keyboard.press("r")  # reject: with two classes, the other one
        wait_item_change(page, second)
    assert human_votes(proj) == {first: "ham", second: "spam"}
    proj.close()
