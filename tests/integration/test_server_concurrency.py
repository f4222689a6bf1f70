"""Many annotators at once against a live server: overlap, lease and never-twice invariants."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from server_util import PASSWORD, LiveServer, cheap_password_hashing, make_project  # noqa: F401

httpx = pytest.importorskip("httpx")

N_ITEMS, OVERLAP, N_GOLD = 60, 2, 5


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request):
    return None if request.param == "sqlite" else request.getfixturevalue("postgres_url")


@pytest.mark.slow
def test_many_annotators_at_once(tmp_path, db):
    from sqlalchemy import func, select

    from labelloop.server import ServerSettings, create_app
    from labelloop.store import repo
    from labelloop.store.models import Assignment

    users = {f"u{k}": "annotator" for k in range(9)}
    gold = {f"i{k}": "a" for k in range(N_GOLD)}
    settings = {"overlap": OVERLAP, "honeypot_rate": 0.1, "lease_seconds": 5, "honeypot_min": 1000}
    proj, names = make_project(tmp_path, db, n=N_ITEMS, gold=gold, settings=settings, users=users)
    base = f"/api/v1/projects/{proj.name}"
    app = create_app(ServerSettings(projects=[proj.dir], worker=False, seed=3))
    results: list[tuple[str, int, int]] = []  # (user, item, status)
    errors: list[str] = []
    lock = threading.Lock()
    with proj.session() as s:
        gold_ids = set(repo.item_ids_by_external(s, proj.id, list(gold)).values())
    with LiveServer(app) as srv:
        def login(name):
            r = httpx.post(srv.url + "/api/v1/auth/token", data={"username": name, "password": PASSWORD})
            return {"Authorization": "Bearer " + r.json()["access_token"]}

        heads = {k: login(v) for k, v in names.items()}
        # u8 leases one item and walks away: the lease must expire and the item come back
        abandoned = httpx.get(srv.url + base + "/next", headers=heads["u8"]).json()["item_id"]
        deadline = time.time() + 60

        def annotate(user):
            h = heads[user]
            with httpx.Client(base_url=srv.url, headers=h, timeout=30) as c:
                while time.time() < deadline:
                    r = c.get(base + "/next")
                    if r.status_code == 204:
                        with lock:
                            done = sum(1 for _, i, st in results if st == 201 and i not in gold_ids)
                        if done >= (N_ITEMS - N_GOLD) * OVERLAP:  # every regular item answered
                            break
                        time.sleep(0.3)
                        continue
                    if r.status_code != 200:
                        errors.append(f"next {r.status_code} {r.text}")
                        return
                    iid = r.json()["item_id"]
                    a = c.post(base + "/answers", json={"item_id": iid, "label": "a"})
                    with lock:
                        results.append((user, iid, a.status_code))
                    if a.status_code not in (201, 409):
                        errors.append(f"answer {a.status_code} {a.text}")
                        return

        # u0 runs in two threads at once (two browser tabs): still never the same item twice
        threads = [threading.Thread(target=annotate, args=(u,)) for u in [f"u{k}" for k in range(8)] + ["u0"]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors[:3]
    ok = [(u, i) for u, i, st in results if st == 201]
    conflicts = [(u, i) for u, i, st in results if st == 409]
    assert all(u == "u0" for u, _ in conflicts)  # only the user with two tabs can collide with herself
    assert len(ok) == len(set(ok)), "an annotator answered the same item twice"
    with proj.session() as s:
        votes = repo.votes_frame(s, proj.id, kinds=["human"])
        leased = s.scalar(select(func.count()).select_from(Assignment).where(Assignment.project_id == proj.id, Assignment.state == "leased"))
    assert len(votes) == len(ok), "an acknowledged answer is missing from the store"
    per_item = Counter(int(i) for i in votes["item_id"] if int(i) not in gold_ids)
    assert len(per_item) == N_ITEMS - N_GOLD
    assert set(per_item.values()) == {OVERLAP}, "over- or under-assignment"
    assert per_item[abandoned] == OVERLAP if abandoned not in gold_ids else True
    assert "u8" not in {u for u, _ in ok}
    assert leased <= 1  # at most the walked-away lease (expired but not yet reaped)
    proj.close()
