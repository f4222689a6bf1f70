"""Suspected label errors sent back to the annotators through the normal queue, with extra
overlap: over HTTP on SQLite and PostgreSQL, and the schema migration that stores the request."""

from __future__ import annotations

from collections import Counter

import pytest
from server_util import cheap_password_hashing, make_project, token  # noqa: F401

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from labelloop.server import ServerSettings, create_app  # noqa: E402


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request):
    return None if request.param == "sqlite" else request.getfixturevalue("postgres_url")


def ids_by_external(proj) -> dict[str, int]:
    from labelloop.store import repo

    with proj.session() as s:
        f = repo.items_frame(s, proj.id)
    return dict(zip(f.external_id, f.item_id.astype(int), strict=True))


def answer(c, p, h, label):
    r = c.get(p + "/next", headers=h)
    if r.status_code == 204:
        return None
    assert r.status_code == 200, r.text
    iid = r.json()["item_id"]
    assert c.post(p + "/answers", headers=h, json={"item_id": iid, "label": label}).status_code == 201
    return iid


def test_requeued_item_gets_extra_answers_from_new_annotators_first(tmp_path, db):
    users = {"a": "annotator", "b": "annotator", "c": "annotator", "d": "annotator", "rev": "reviewer", "adm": "admin"}
    proj, u = make_project(tmp_path, db, n=6, users=users)
    p = f"/api/v1/projects/{proj.name}"
    ids = ids_by_external(proj)
    app = create_app(ServerSettings(projects=[proj.dir], worker=False, seed=7))
    with TestClient(app) as c:
        h = {k: token(c, v) for k, v in u.items()}
        # a answers i0 and i1 (overlap 1: both close); four items stay open at priority 0
        got = [answer(c, p, h["a"], "a") for _ in range(2)]
        assert sorted(got) == [ids["i0"], ids["i1"]]
        x = ids["i1"]
        # only admins may re-queue; bad requests get clear 4xx
        assert c.post(p + "/admin/review/requeue", headers=h["rev"], json={"item_ids": [x]}).status_code == 403
        assert c.post(p + "/admin/review/requeue", headers=h["adm"], json={"item_ids": [x], "extra_answers": 0}).status_code == 422
        r = c.post(p + "/admin/review/requeue", headers=h["adm"], json={"item_ids": [x, 10**9]})
        assert r.status_code == 404 and "not in this project" in r.text
        r = c.post(p + "/admin/review/requeue", headers=h["adm"], json={"item_ids": [x], "extra_answers": 2})
        assert r.status_code == 200, r.text
        assert r.json() == {"requeued": 1, "gold_skipped": 0, "open": 1, "extra_answers": 2}
        # b and c are served the re-queued item before every open item; a never again
        rb = c.get(p + "/next", headers=h["b"]).json()["item_id"]
        rc = c.get(p + "/next", headers=h["c"]).json()["item_id"]
        assert rb == rc == x
        # two live leases fill the two extra slots: d gets another item meanwhile
        assert c.get(p + "/next", headers=h["d"]).json()["item_id"] != x
        review = c.get(p + "/admin/review", headers=h["rev"]).json()
        assert review[0]["item_id"] == x and review[0]["reason"] == "re-labelling: 1 of 3 answers"
        for k in "bc":
            assert c.post(p + "/answers", headers=h[k], json={"item_id": x, "label": "b"}).status_code == 201
        # the label is re-aggregated from all three answers: two 'b' outvote the first 'a'
        it = c.get(p + f"/items/{x}", headers=h["rev"]).json()
        assert it["final"]["label"] == "b" and sorted(v["label"] for v in it["votes"]) == ["a", "b", "b"]
        review = c.get(p + "/admin/review", headers=h["rev"]).json()
        assert review[0]["item_id"] == x and review[0]["reason"] == "re-labelled (3 answers)"
        # everyone drains the queue: x got exactly 3 answers, every other item exactly 1, nobody twice
        seen = {k: [] for k in "abcd"}
        active = set("abcd")
        while active:
            for k in sorted(active):
                iid = answer(c, p, h[k], "a")
                if iid is None:
                    active.discard(k)
                else:
                    seen[k].append(iid)
    from labelloop.store import repo

    with proj.session() as s:
        votes = repo.votes_frame(s, proj.id, kinds=["human"])
    per_item = Counter(votes.item_id.astype(int))
    assert per_item[x] == 3 and all(per_item[ids[f"i{k}"]] == 1 for k in range(6) if ids[f"i{k}"] != x)
    assert not votes.duplicated(["item_id", "source"]).any()
    proj.close()


def test_requeue_the_review_pages_suspects_and_leave_gold_alone(tmp_path, db):
    from labelloop.store import repo
    from labelloop.store.models import Item
    from labelloop.store.queue import REVIEW_PRIORITY

    proj, u = make_project(tmp_path, db, n=8, gold={"i7": "a"}, settings={"overlap": 2},
                           users={"a": "annotator", "b": "annotator", "adm": "admin"})
    p = f"/api/v1/projects/{proj.name}"
    ids = ids_by_external(proj)
    sus = {ids["i3"]: 0.9, ids["i5"]: 0.6, ids["i7"]: 0.95}
    with proj.session() as s:
        repo.set_priorities(s, proj.id, list(sus), list(sus.values()), "error-review")
    app = create_app(ServerSettings(projects=[proj.dir], worker=False, seed=7))
    with TestClient(app) as c:
        ha, hd = token(c, u["a"]), token(c, u["adm"])
        r = c.post(p + "/admin/review/requeue", headers=hd, json={"extra_answers": 3})
        assert r.status_code == 200, r.text
        assert r.json() == {"requeued": 2, "gold_skipped": 1, "open": 2, "extra_answers": 3}
        # most suspect first
        assert answer(c, p, ha, "a") == ids["i3"]
        assert answer(c, p, ha, "a") == ids["i5"]
        # "3 more answers than now": i3 had none, so it wants 3 in all (overlap 2 + 1 review slot);
        # asking again for 1 more (1 answer + 1 = 2) never lowers that earlier request
        r = c.post(p + "/admin/review/requeue", headers=hd, json={"item_ids": [ids["i3"]], "extra_answers": 1})
        assert r.json()["requeued"] == 1
    with proj.session() as s:
        rows = {i.id: i for i in s.query(Item).filter(Item.id.in_(list(sus)))}
        assert rows[ids["i3"]].q_review == 1 and rows[ids["i3"]].q_open and rows[ids["i3"]].q_done == 1
        assert rows[ids["i3"]].priority == pytest.approx(REVIEW_PRIORITY + 0.9)
        assert rows[ids["i5"]].priority_reason == "error-relabel"
        assert rows[ids["i7"]].q_review == 0 and not rows[ids["i7"]].q_open and rows[ids["i7"]].priority_reason == "error-review"
    proj.close()


def test_migration_adds_the_review_column_to_an_existing_store(tmp_path):
    import sqlalchemy as sa

    from labelloop.store.migrate import current_revision, head_revision, upgrade

    eng = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(eng, "0002")
    with eng.begin() as conn:
        conn.execute(sa.text("INSERT INTO projects (name, data_type, task_type, label_schema, settings, created_at) "
                             "VALUES ('p', 'text', 'single', '{}', '{}', '2024-01-01')"))
        conn.execute(sa.text("INSERT INTO items (project_id, external_id, text, fields, content_hash, priority, created_at) "
                             "VALUES (1, 'x', 'hello', '{}', 'h', 0, '2024-01-01')"))
    upgrade(eng)
    assert current_revision(eng) == head_revision(eng)
    with eng.connect() as conn:
        assert conn.execute(sa.text("SELECT q_review, q_open FROM items")).one() == (0, 1)
    eng.dispose()


def test_sync_queue_recounts_and_reopens_only_what_changed(tmp_path, db):
    """Server start and overlap changes recount every item's slots from the assignments; the
    rows already right are left alone (a large project starts without rewriting every row)."""
    from sqlalchemy import select, update

    from labelloop.store.models import Item
    from labelloop.store.queue import Database, QueueContext, QueueSettings, sync_queue

    proj, u = make_project(tmp_path, db, n=5, users={"a": "annotator"})
    p = f"/api/v1/projects/{proj.name}"
    ids = ids_by_external(proj)
    with TestClient(create_app(ServerSettings(projects=[proj.dir], worker=False, seed=3))) as c:
        h = token(c, u["a"])
        answered = {answer(c, p, h, "a") for _ in range(2)}
    fresh = [i for i in ids.values() if i not in answered]
    broken, capped = fresh[0], fresh[1]
    with proj.session() as s:  # counters gone wrong (e.g. a crash between two writes)
        s.execute(update(Item).where(Item.id == broken).values(q_taken=3, q_done=1, q_open=False))
        s.execute(update(Item).where(Item.id == capped).values(q_extra=40))

    def state():
        with proj.session() as s:
            rows = s.execute(select(Item.id, Item.q_taken, Item.q_done, Item.q_open, Item.q_extra).where(Item.project_id == proj.id))
            return {r[0]: tuple(r[1:]) for r in rows}

    database = Database(proj.resolved_url, pool_size=1)
    try:
        # ceiling 4: extra answers are capped at 4 - overlap, and a cap never raises them again
        for overlap, answered_open, extra in ((1, False, 3), (2, True, 2), (1, False, 2)):
            st = QueueSettings.from_dict({**proj.settings, "overlap": overlap, "max_overlap": 4})
            with database.writing() as s:
                out = sync_queue(s, QueueContext(project_id=proj.id, schema=proj.schema, settings=st, postgres=database.postgres))
            got = state()
            for i in answered:
                assert got[i][:3] == (1, 1, answered_open)
            assert got[broken][:3] == (0, 0, True)
            assert got[capped][3] == extra
            assert out["open"] == sum(1 for v in got.values() if v[2])
    finally:
        database.dispose()
