"""REST API of the labelling server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from server_util import PASSWORD, cheap_password_hashing, make_project, token  # noqa: F401

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from labelloop.server import ServerSettings, create_app  # noqa: E402


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request):
    return None if request.param == "sqlite" else request.getfixturevalue("postgres_url")


def client_for(proj, **kw):
    app = create_app(ServerSettings(projects=[proj.dir], worker=False, seed=7, **kw))
    return TestClient(app)


def first_item(proj) -> int:
    from labelloop.store import repo

    with proj.session() as s:
        return int(repo.items_frame(s, proj.id)["item_id"].min())


def drain(c, proj, h, label="a", limit=1000):
    """Answer until 204 (``label`` may be a function of the item id); returns the item ids answered."""
    got = []
    for _ in range(limit):
        r = c.get(f"/api/v1/projects/{proj.name}/next", headers=h)
        if r.status_code == 204:
            return got
        assert r.status_code == 200, r.text
        iid = r.json()["item_id"]
        lab = label(iid) if callable(label) else label
        r = c.post(f"/api/v1/projects/{proj.name}/answers", headers=h, json={"item_id": iid, "label": lab})
        assert r.status_code == 201, r.text
        got.append(iid)
    raise AssertionError("queue never ran dry")


# ---------------------------------------------------------------------- auth and roles
def test_token_login_and_errors(tmp_path, db):
    proj, u = make_project(tmp_path, db, n=3)
    with client_for(proj) as c:
        assert c.post("/api/v1/auth/token", data={"username": u["alice"], "password": "wrong-password"}).status_code == 401
        assert c.post("/api/v1/auth/token", data={"username": "nobody", "password": PASSWORD}).status_code == 401
        assert c.post("/api/v1/auth/token", data={"username": u["alice"]}).status_code == 422
        assert c.get(f"/api/v1/projects/{proj.name}/next").status_code == 401
        assert c.get(f"/api/v1/projects/{proj.name}/next", headers={"Authorization": "Bearer nonsense"}).status_code == 401
        assert c.get(f"/api/v1/projects/{proj.name}/next", headers={"Authorization": "Basic abc"}).status_code == 401
        h = token(c, u["alice"])
        me = c.get("/api/v1/me", headers=h).json()
        assert me == {"name": u["alice"], "role": "annotator", "paused_reason": None}
        assert c.get("/api/v1/projects/nope/next", headers=h).status_code == 404
        r = c.post("/api/v1/auth/logout", headers=h)
        assert r.status_code == 204
        assert c.get("/api/v1/me", headers=h).status_code == 401
    proj.close()


def test_failed_logins_are_rate_limited_per_user_and_address(tmp_path):
    proj, u = make_project(tmp_path, None, n=3)
    alice, bob = u["alice"], u["bob"]
    with client_for(proj, login_failures_per_user=3, login_failures_per_ip=5) as c:
        for path in ("/api/v1/auth/token", "/api/v1/auth/login"):  # both logins count and are limited
            for _ in range(3 if path.endswith("token") else 0):
                assert c.post(path, data={"username": alice, "password": "wrong-password"}).status_code == 401
            r = c.post(path, data={"username": alice, "password": PASSWORD})  # even the right password waits
            assert r.status_code == 429, r.text
            assert "too many failed logins for user" in r.json()["detail"]
            assert 1 <= int(r.headers["retry-after"]) <= 60
        # another user from the same address still gets in, until the address used up its failures
        assert c.post("/api/v1/auth/token", data={"username": bob, "password": PASSWORD}).status_code == 200
        for _ in range(2):
            assert c.post("/api/v1/auth/login", data={"username": bob, "password": "wrong-password"}).status_code == 401
        r = c.post("/api/v1/auth/token", data={"username": "nobody", "password": "x"})
        assert r.status_code == 429 and "from your address" in r.json()["detail"]
    # a success clears the failures of that user name
    with client_for(proj, login_failures_per_user=3, login_failures_per_ip=0) as c:
        for _ in range(2):
            assert c.post("/api/v1/auth/token", data={"username": alice, "password": "wrong-password"}).status_code == 401
        assert c.post("/api/v1/auth/token", data={"username": alice, "password": PASSWORD}).status_code == 200
        for _ in range(2):
            assert c.post("/api/v1/auth/token", data={"username": alice, "password": "wrong-password"}).status_code == 401
        assert c.post("/api/v1/auth/token", data={"username": alice, "password": PASSWORD}).status_code == 200
    proj.close()


def test_failed_logins_age_out_of_the_window(monkeypatch):
    from labelloop.server import ratelimit

    now = [1000.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: now[0])
    lim = ratelimit.LoginLimiter(per_user=2, per_ip=0, window_seconds=60)
    lim.failed("Alice", "1.2.3.4")
    now[0] += 30
    lim.failed("alice", "1.2.3.4")  # names are compared without case
    with pytest.raises(Exception) as err:
        lim.check("alice", "1.2.3.4")
    assert err.value.status_code == 429 and err.value.headers["Retry-After"] == "30"
    now[0] += 30.5  # the first failure left the window
    lim.check("alice", "1.2.3.4")


def test_session_cookie_needs_csrf_for_writes(tmp_path, db):
    proj, u = make_project(tmp_path, db, n=3)
    with client_for(proj) as c:
        r = c.post("/api/v1/auth/login", data={"username": u["alice"], "password": PASSWORD})
        assert r.status_code == 200
        csrf = r.json()["csrf_token"]
        assert r.cookies.get("labelloop_session") and "httponly" in r.headers["set-cookie"].lower()
        nxt = c.get(f"/api/v1/projects/{proj.name}/next")  # cookie auth, safe method: no CSRF needed
        assert nxt.status_code == 200
        body = {"item_id": nxt.json()["item_id"], "label": "a"}
        assert c.post(f"/api/v1/projects/{proj.name}/answers", json=body).status_code == 403
        assert c.post(f"/api/v1/projects/{proj.name}/answers", json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
        assert c.post(f"/api/v1/projects/{proj.name}/answers", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    proj.close()


def test_roles(tmp_path, db):
    proj, u = make_project(tmp_path, db, n=3, users={"ann": "annotator", "rev": "reviewer", "adm": "admin"})
    p = f"/api/v1/projects/{proj.name}"
    iid = first_item(proj)
    with client_for(proj) as c:
        ha, hr, hd = token(c, u["ann"]), token(c, u["rev"]), token(c, u["adm"])
        for path in ("/admin/overview", "/admin/annotators", "/admin/review", "/admin/export", "/admin/worker", f"/items/{iid}"):
            assert c.get(p + path, headers=ha).status_code == 403, path
            assert c.get(p + path, headers=hr).status_code == 200, path
        assert c.get(p + "/admin/settings", headers=hr).status_code == 403
        assert c.put(p + "/admin/settings", headers=hr, json={"overlap": 2}).status_code == 403
        assert c.get("/api/v1/admin/users", headers=hr).status_code == 403
        assert c.put(p + "/admin/settings", headers=hd, json={"overlap": 2}).json()["overlap"] == 2
        r = c.post("/api/v1/admin/users", headers=hd, json={"name": proj.name + "-new", "role": "annotator", "password": "longenough1"})
        assert r.status_code == 201
        assert c.post("/api/v1/admin/users", headers=hd, json={"name": proj.name + "-x", "role": "king", "password": "longenough1"}).status_code == 422
        assert c.put(p + "/admin/settings", headers=hd, json={"overlap": 0}).status_code == 422
        assert c.put(p + "/admin/settings", headers=hd, json={"nonsense": 1}).status_code == 422
    proj.close()


# ---------------------------------------------------------------------- queue
def test_overlap_two_distinct_annotators_never_twice(tmp_path, db):
    proj, u = make_project(tmp_path, db, n=12, settings={"overlap": 2}, users={"a": "annotator", "b": "annotator", "c": "annotator"})
    with client_for(proj) as c:
        hs = {k: token(c, v) for k, v in u.items()}
        seen = {k: [] for k in hs}
        # interleave the three annotators until everyone runs dry
        active = set(hs)
        while active:
            for k in sorted(active):
                r = c.get(f"/api/v1/projects/{proj.name}/next", headers=hs[k])
                if r.status_code == 204:
                    active.discard(k)
                    continue
                iid = r.json()["item_id"]
                assert c.post(f"/api/v1/projects/{proj.name}/answers", headers=hs[k], json={"item_id": iid, "label": "a"}).status_code == 201
                seen[k].append(iid)
    for k, ids in seen.items():
        assert len(ids) == len(set(ids)), f"{k} got an item twice"
    from collections import Counter

    counts = Counter(i for ids in seen.values() for i in ids)
    assert len(counts) == 12 and set(counts.values()) == {2}
    from labelloop.store import repo

    with proj.session() as s:
        votes = repo.votes_frame(s, proj.id, kinds=["human"])
        labels = repo.labels_frame(s, proj.id)
    assert len(votes) == 24 and len(labels) == 12 and set(labels["label"]) == {"a"}
    proj.close()


def test_next_returns_same_item_until_answered_and_answer_rules(tmp_path, db):
    proj, u = make_project(tmp_path, db, n=3)
    p = f"/api/v1/projects/{proj.name}"
    with client_for(proj) as c:
        ha, hb = token(c, u["alice"]), token(c, u["bob"])
        first = c.get(p + "/next", headers=ha).json()["item_id"]
        assert c.get(p + "/next", headers=ha).json()["item_id"] == first
        # bob may not answer alice's item (overlap 1: it is not his)
        assert c.post(p + "/answers", headers=hb, json={"item_id": first, "label": "a"}).status_code == 409
        assert c.post(p + "/answers", headers=ha, json={"item_id": first, "label": "a"}).status_code == 201
        r = c.post(p + "/answers", headers=ha, json={"item_id": first, "label": "b"})
        assert r.status_code == 409 and "already answered" in r.json()["detail"]
        assert c.post(p + "/answers", headers=ha, json={"item_id": 10**6, "label": "a"}).status_code == 404
    proj.close()


def test_lease_expiry_returns_item_and_late_answer(tmp_path, db):
    from sqlalchemy import update

    from labelloop.store.models import Assignment, utcnow

    proj, u = make_project(tmp_path, db, n=1, settings={"lease_seconds": 60})
    p = f"/api/v1/projects/{proj.name}"
    with client_for(proj) as c:
        ha, hb = token(c, u["alice"]), token(c, u["bob"])
        iid = c.get(p + "/next", headers=ha).json()["item_id"]
        assert c.get(p + "/next", headers=hb).status_code == 204  # overlap 1: taken
        with proj.session() as s:  # alice walks away: her lease runs out
            s.execute(update(Assignment).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        import time

        time.sleep(1.1)  # the reaper runs at most once a second
        assert c.get(p + "/next", headers=hb).json()["item_id"] == iid
        # alice comes back too late: the slot went to bob
        r = c.post(p + "/answers", headers=ha, json={"item_id": iid, "label": "a"})
        assert r.status_code == 409 and "expired" in r.json()["detail"]
        assert c.post(p + "/answers", headers=hb, json={"item_id": iid, "label": "b"}).status_code == 201
    proj.close()


def test_skip_and_undo(tmp_path, db):
    proj, u = make_project(tmp_path, db, n=4)
    p = f"/api/v1/projects/{proj.name}"
    with client_for(proj) as c:
        h = token(c, u["alice"])
        i1 = c.get(p + "/next", headers=h).json()["item_id"]
        assert c.post(p + "/skip", headers=h, json={"item_id": i1}).status_code == 204
        i2 = c.get(p + "/next", headers=h).json()["item_id"]
        assert i2 != i1
        assert c.post(p + "/answers", headers=h, json={"item_id": i2, "label": "b", "comment": "hmm"}).status_code == 201
        i3 = c.get(p + "/next", headers=h).json()["item_id"]  # prefetched next item
        r = c.post(p + "/undo", headers=h)
        assert r.status_code == 200 and r.json()["item_id"] == i2 and r.json()["previous_label"] == "b"
        assert c.get(p + "/next", headers=h).json()["item_id"] == i2
        assert c.post(p + "/answers", headers=h, json={"item_id": i2, "label": "a"}).status_code == 201
        rest = drain(c, proj, h)
        assert i1 not in rest and i3 in rest  # skipped never comes back; the released lease does
        hb = token(c, u["bob"])
        assert drain(c, proj, hb) == [i1]  # the skipped item went to someone else
        assert c.post(p + "/undo", headers=token(c, u["boss"])).status_code == 409
    from labelloop.store import repo

    with proj.session() as s:
        votes = repo.votes_frame(s, proj.id, kinds=["human"])
    assert dict(zip(votes["item_id"], votes["label"], strict=True))[i2] == "a"
    proj.close()


def test_dynamic_overlap_asks_more_only_while_unsure(tmp_path, db):
    settings = {"overlap": 1, "max_overlap": 3, "confidence_target": 0.9}
    proj, u = make_project(tmp_path, db, n=2, settings=settings, users={"a": "annotator", "b": "annotator", "c": "annotator"})
    p = f"/api/v1/projects/{proj.name}"
    with client_for(proj) as c:
        ha, hb, hc = (token(c, u[k]) for k in "abc")
        # item 1: a says 'a' (confidence 0.8 < 0.9) -> b is asked, agrees -> confident, closed
        i = c.get(p + "/next", headers=ha).json()["item_id"]
        c.post(p + "/answers", headers=ha, json={"item_id": i, "label": "a"})
        j = c.get(p + "/next", headers=hb).json()["item_id"]
        assert j == i
        c.post(p + "/answers", headers=hb, json={"item_id": j, "label": "a"})
        k = c.get(p + "/next", headers=hc).json()["item_id"]
        assert k != i  # two agreeing answers are enough (posterior 0.94)
    proj.close()


# ---------------------------------------------------------------------- honeypots and live quality
def test_honeypots_hidden_and_failures_pause(tmp_path, db):
    gold = {f"i{k}": "a" for k in range(6)}
    settings = {"honeypot_rate": 0.5, "honeypot_min": 2, "pause_below": 0.5}
    proj, u = make_project(tmp_path, db, n=30, gold=gold, settings=settings)
    p = f"/api/v1/projects/{proj.name}"
    with client_for(proj) as c:
        h = token(c, u["alice"])
        keys = set()
        paused = None
        alice = []
        for _ in range(40):
            r = c.get(p + "/next", headers=h)
            if r.status_code == 403:
                paused = r.json()["detail"]
                break
            body = r.json()
            alice.append(body["item_id"])
            keys.add(tuple(sorted(body)))
            assert "gold" not in r.text and "honeypot" not in r.text
            r = c.post(p + "/answers", headers=h, json={"item_id": body["item_id"], "label": "b"})  # gold says 'a'
            assert r.status_code == 201
            assert set(r.json()) == {"item_id", "label", "paused", "progress"}
            if r.json()["paused"]:
                paused = r.json()["paused"]
                break
        assert paused and "paused" in paused.lower()
        assert len(keys) == 1  # honeypots and regular items look the same
        r = c.get(p + "/next", headers=h)
        assert r.status_code == 403 and "paused" in r.json()["detail"].lower()
        assert c.get("/api/v1/me", headers=h).json()["paused_reason"]
        hb = token(c, u["boss"])
        stats = {a["name"]: a for a in c.get(p + "/admin/annotators", headers=hb).json()}
        al = stats[u["alice"]]
        assert al["honeypots"] == 2 and al["honeypot_accuracy"] == 0.0 and al["weight"] < 0.8
        assert c.post(p + f"/admin/annotators/{u['alice']}/resume", headers=hb).status_code == 204
        r = c.get(p + "/next", headers=h)
        assert r.status_code == 200
        alice.append(r.json()["item_id"])
        # an honest annotator is not paused and honeypots do not enter the regular queue
        hbob = token(c, u["bob"])
        got = drain(c, proj, hbob, label="a")
        assert len(set(got)) == len(got)
    from labelloop.store import repo

    with proj.session() as s:
        gold_ids = set(repo.item_ids_by_external(s, proj.id, list(gold)).values())
    regular_alice = [i for i in alice if i not in gold_ids]
    regular_bob = [i for i in got if i not in gold_ids]
    assert len(regular_alice) < len(alice)  # alice did get honeypots
    assert 0 < len(got) - len(regular_bob) <= 6  # so did bob, each at most once
    all_ids = set(range(first_item(proj), first_item(proj) + 30))
    assert sorted(regular_alice + regular_bob) == sorted(all_ids - gold_ids)  # overlap 1: each regular item once  # overlap 1: each regular item once
    proj.close()


def test_multilabel_alias_and_parent(tmp_path, db):
    from labelloop.schema import Taxonomy

    tax = Taxonomy.from_records([
        {"tag": "machine-learning"},
        {"tag": "natural-language-processing", "aliases": ["nlp"], "parents": ["machine-learning"]},
        {"tag": "computer-vision", "aliases": ["cv"], "parents": ["machine-learning"]},
    ])
    proj, u = make_project(tmp_path, db, n=2, task="multi", labels=(), taxonomy=tax)
    p = f"/api/v1/projects/{proj.name}"
    with client_for(proj) as c:
        h = token(c, u["alice"])
        info = c.get(p, headers=h).json()
        assert info["task"] == "multi" and {t["tag"] for t in info["taxonomy"]} >= {"natural-language-processing"}
        iid = c.get(p + "/next", headers=h).json()["item_id"]
        r = c.post(p + "/answers", headers=h, json={"item_id": iid, "label": ["NLP"]})
        assert r.status_code == 201
        assert r.json()["label"] == ["machine-learning", "natural-language-processing"]
        iid = c.get(p + "/next", headers=h).json()["item_id"]
        r = c.post(p + "/answers", headers=h, json={"item_id": iid, "label": ["no-such-tag"]})
        assert r.status_code == 422 and "unknown tag" in r.json()["detail"]
        assert c.post(p + "/answers", headers=h, json={"item_id": iid, "label": [1, 2]}).status_code == 422
    proj.close()


# ---------------------------------------------------------------------- bad input and security
def test_bad_input_gets_clear_4xx(tmp_path, db):
    proj, u = make_project(tmp_path, db, n=2)
    p = f"/api/v1/projects/{proj.name}"
    with client_for(proj, max_body_bytes=5000) as c:
        h = token(c, u["alice"])
        iid = c.get(p + "/next", headers=h).json()["item_id"]
        cases = [
            ({"content": b"{not json", "headers": {**h, "content-type": "application/json"}}, 422),
            ({"json": {"item_id": iid}}, 422),
            ({"json": {"item_id": iid, "label": "a", "extra": 1}}, 422),
            ({"json": {"item_id": -5, "label": "a"}}, 422),
            ({"json": {"item_id": iid, "label": None}}, 422),
            ({"json": {"item_id": iid, "label": ["a", "b"]}}, 422),
            ({"json": {"item_id": iid, "label": "zzz"}}, 422),
            ({"json": {"item_id": iid, "label": "a", "seconds": -1}}, 422),
            ({"json": {"item_id": iid, "label": "a", "comment": "x" * 2100}}, 422),
            ({"json": [1, 2, 3]}, 422),
            ({"content": b"x" * 9000, "headers": {**h, "content-type": "application/json"}}, 413),
        ]
        for kw, code in cases:
            kw.setdefault("headers", h)
            r = c.post(p + "/answers", **kw)
            assert r.status_code == code, (kw.get("json"), r.status_code, r.text)
            assert r.json()["detail"]
        r = c.post(p + "/answers", headers=h, json={"item_id": iid, "label": "zzz"})
        assert "not one of the classes" in r.json()["detail"]
        assert c.get(p + "/admin/review?limit=0", headers=token(c, u["boss"])).status_code == 422
    proj.close()


def test_media_only_from_media_root(tmp_path, db):
    from PIL import Image

    from labelloop.io.importers import import_file
    from labelloop.project import Project
    from labelloop.store.users import add_user

    inside = tmp_path / "proj" / "media"
    inside.mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    Image.new("RGB", (4, 4), "red").save(inside / "in.png")
    Image.new("RGB", (4, 4), "blue").save(outside / "out.png")
    name = "img" + tmp_path.name[-8:].replace("_", "").replace("-", "")
    proj = Project.init(tmp_path / "proj", name=name, db=db, data="image", labels=["red", "blue"])
    (tmp_path / "i.csv").write_text(f"id,image\nin,{inside / 'in.png'}\nout,{outside / 'out.png'}\n")
    import_file(proj, tmp_path / "i.csv")
    with proj.session() as s:
        add_user(s, name + "-ann", "annotator", PASSWORD)
        add_user(s, name + "-adm", "admin", PASSWORD)
    p = f"/api/v1/projects/{name}"
    with client_for(proj) as c:
        h = token(c, name + "-ann")
        first = c.get(p + "/next", headers=h).json()
        assert first["image_url"] and first["text"] is None
        r = c.get(first["image_url"], headers=h)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        ids = {first["item_id"]}
        c.post(p + "/answers", headers=h, json={"item_id": first["item_id"], "label": "red"})
        second = c.get(p + "/next", headers=h).json()
        ids.add(second["item_id"])
        r = c.get(second["image_url"], headers=h)
        assert r.status_code == 403 and "media root" in r.json()["detail"]
        ha = token(c, name + "-adm")
        assert c.put(p + "/admin/settings", headers=ha, json={"media_roots": [str(outside)]}).status_code == 200
        assert c.get(second["image_url"], headers=h).status_code == 200
        # annotators cannot fetch items that were not handed to them
        assert c.get(f"{p}/items/999999/media", headers=h).status_code == 404
        assert c.get(f"{p}/items/{min(ids)}/media/../../../etc/passwd", headers=h).status_code == 404
    proj.close()


def test_reviewer_sees_votes_annotator_does_not(tmp_path, db):
    proj, u = make_project(tmp_path, db, n=2, gold={"i0": "a"}, settings={"overlap": 2},
                           users={"a": "annotator", "b": "annotator", "rev": "reviewer"})
    p = f"/api/v1/projects/{proj.name}"
    with client_for(proj) as c:
        ha, hb, hr = token(c, u["a"]), token(c, u["b"]), token(c, u["rev"])
        iid = c.get(p + "/next", headers=ha).json()["item_id"]
        c.post(p + "/answers", headers=ha, json={"item_id": iid, "label": "b"})
        r = c.get(p + "/next", headers=hb)
        assert r.json()["item_id"] == iid and u["a"] not in r.text and "votes" not in r.json()
        assert c.get(f"{p}/items/{iid}", headers=hb).status_code == 403
        full = c.get(f"{p}/items/{iid}", headers=hr).json()
        assert [v["source"] for v in full["votes"]] == [f"user:{u['a']}"]
        # a reviewer may correct any item directly
        assert c.post(p + "/answers", headers=hr, json={"item_id": iid, "label": "a"}).status_code == 201
        ov = c.get(p + "/admin/overview", headers=hr).json()
        assert ov["items"] == 2 and ov["gold_items"] == 1 and ov["answers"] == 2
        exp = c.get(p + "/admin/export?format=csv", headers=hr)
        assert exp.status_code == 200 and exp.text.splitlines()[0] == "id,text,label,confidence,method"
        assert len(exp.text.splitlines()) == 3
        lines = c.get(p + "/admin/export?format=jsonl&votes=true", headers=hr).text.splitlines()
        assert len(lines) == 2
        # labels only: every item once, in id order, the reviewer's correction as the final label
        recs = [json.loads(x) for x in c.get(p + "/admin/export?format=jsonl", headers=hr).text.splitlines()]
        assert [r["id"] for r in recs] == ["i0", "i1"]
        answered = next(r for r in recs if r["id"] == ("i0" if iid == first_item(proj) else "i1"))
        assert answered["label"] == "a" and answered["text"] and answered["method"]
        assert [r["label"] for r in recs if r is not answered] == [None]
        # suspected label errors (written by the quality checks) come first in the review queue
        from labelloop.store import repo

        other = iid + 1 if iid == first_item(proj) else first_item(proj)
        with proj.session() as s:
            repo.set_priorities(s, proj.id, [other], [0.9], "error-review")
        rows = c.get(p + "/admin/review", headers=hr).json()
        assert rows[0]["item_id"] == other and rows[0]["reason"] == "suspected error"
    proj.close()


def test_worker_round_records_skills(tmp_path, db):
    from labelloop.server.worker import Worker

    proj, u = make_project(tmp_path, db, n=6, settings={"overlap": 2, "retrain_every": 4, "loop_embed_model": "tfidf"})
    p = f"/api/v1/projects/{proj.name}"
    app = create_app(ServerSettings(projects=[proj.dir], worker=False, seed=1))
    with TestClient(app) as c:
        drain(c, proj, token(c, u["alice"]), label=lambda i: "a" if i % 2 else "b")
        drain(c, proj, token(c, u["bob"]), label="b")
        handle = app.state.labelloop.projects[proj.name]
        w = Worker(handle)
        res = w.run_once()
        assert res["state"] == "done", res
        assert res["details"]["aggregate"]["items"] == 6
        # the learning loop's round ran too: the model's predictions are the next pre-labels
        assert res["details"]["loop"]["items"] == 6
        item = c.get(p + f"/items/{first_item(proj)}", headers=token(c, u["boss"])).json()
        assert item["prelabel"] is not None and item["prelabel"]["label"] in ("a", "b")
        hb = token(c, u["boss"])
        runs = c.get(p + "/admin/worker", headers=hb).json()["runs"]
        assert runs[0]["state"] == "done" and runs[0]["answers"] == 12
        skills = {a["name"]: a["skill"] for a in c.get(p + "/admin/annotators", headers=hb).json()}
        assert skills[u["alice"]] is not None and skills[u["bob"]] is not None
        ov = c.get(p + "/admin/overview", headers=hb).json()
        assert ov["agreement"] == {"items": 6, "pairs": 6, "pairwise": 0.5}
    proj.close()


def test_openapi_lists_the_script_endpoints(tmp_path):
    proj, _ = make_project(tmp_path, None, n=1)
    with client_for(proj) as c:
        paths = c.get("/openapi.json").json()["paths"]
        for path in ("/api/v1/auth/token", "/api/v1/projects/{name}/next", "/api/v1/projects/{name}/answers"):
            assert path in paths
        assert c.get("/").status_code in (200, 307)
    proj.close()


def test_prelabels_blind_mode_and_model_as_voter(tmp_path, db):
    import numpy as np

    from labelloop.store import repo

    proj, u = make_project(tmp_path, db, n=2)
    with proj.session() as s:
        ids = repo.items_frame(s, proj.id)["item_id"].tolist()
        repo.write_predictions(s, proj.id, "m1", ids, np.array([[0.2, 0.8], [0.2, 0.8]]), ["a", "b"])
    p = f"/api/v1/projects/{proj.name}"
    with client_for(proj) as c:
        h = token(c, u["alice"])
        item = c.get(p + "/next", headers=h).json()
        assert item["prelabel"] == {"label": "b", "confidence": 0.8}
        # the model is one more voter: human 'a' (accuracy 0.8) vs model 'b' (0.7) -> 4 / (4 + 7/3)
        c.post(p + "/answers", headers=h, json={"item_id": item["item_id"], "label": "a"})
        with proj.session() as s:
            lab = repo.labels_frame(s, proj.id).set_index("item_id").loc[item["item_id"]]
        assert lab["label"] == "a" and lab["confidence"] == pytest.approx(4 / (4 + 7 / 3))
        hb = token(c, u["boss"])
        assert c.put(p + "/admin/settings", headers=hb, json={"blind": True, "mode": "accept_reject"}).status_code == 200
        assert c.get(p, headers=h).json()["blind"] is True
        item = c.get(p + "/next", headers=h).json()
        assert item["prelabel"] is None  # blind mode: no pre-label
    proj.close()


def test_progress_figures_follow_the_answers(tmp_path, db):
    """The progress an annotator sees: answers given (at once, from each answer) and items still
    open to them (recounted in the background, so at most a few seconds behind)."""
    import time

    proj, u = make_project(tmp_path, db, n=6, settings={"overlap": 1})
    p = f"/api/v1/projects/{proj.name}"
    with client_for(proj) as c:
        ha, hb = token(c, u["alice"]), token(c, u["bob"])
        first = c.get(p + "/next", headers=ha).json()
        assert first["progress"] == {"done": 0, "remaining": 5}  # six items, one leased to alice
        iid = first["item_id"]
        for k in range(1, 4):
            r = c.post(p + "/answers", headers=ha, json={"item_id": iid, "label": "a"})
            assert r.status_code == 201 and r.json()["progress"]["done"] == k
            if k < 3:
                iid = c.get(p + "/next", headers=ha).json()["item_id"]
        c.get(p + "/next", headers=hb)  # bob takes one: five answered or leased, one left for alice
        deadline = time.monotonic() + 15
        while True:
            got = c.get(p + "/progress", headers=ha).json()
            if got == {"done": 3, "remaining": 2} or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert got == {"done": 3, "remaining": 2}
