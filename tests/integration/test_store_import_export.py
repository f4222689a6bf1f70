"""The store on a real database (SQLite and PostgreSQL): import, idempotency, all-or-nothing,
interrupted imports, export, stats, and the Made With ML taxonomy case."""

import csv
import json
import uuid

import pandas as pd
import pytest

from labelloop.exceptions import DuplicateIdError, InputError, InvalidImageError, SchemaError
from labelloop.io import export_labels, import_file
from labelloop.project import Project
from labelloop.stats import project_stats
from labelloop.store import repo


@pytest.fixture(params=["sqlite", "postgres"])
def make_project(request, tmp_path):
    """Factory for projects on SQLite (a file in tmp) or PostgreSQL (a fresh database)."""
    made = []

    def factory(**kw):
        db = None
        if request.param == "postgres":
            db = request.getfixturevalue("postgres_url")
        d = tmp_path / f"p{len(made)}"
        proj = Project.init(d, name=f"t-{uuid.uuid4().hex[:8]}", db=db, **kw)
        made.append(proj)
        return proj

    yield factory
    for p in made:
        p.close()


def _csv(path, rows, header=("id", "text", "label")):
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _snapshot(proj):
    with proj.session() as s:
        items = repo.items_frame(s, proj.id)[["external_id", "text", "content_hash"]].sort_values("external_id")
        votes = repo.votes_frame(s, proj.id)[["external_id", "source", "label"]].sort_values(["external_id", "source"])
    return items.reset_index(drop=True), votes.reset_index(drop=True)


def test_csv_import_is_idempotent_and_updates_changed_rows(make_project, tmp_path):
    proj = make_project(task="single")
    f = _csv(tmp_path / "d.csv", [(1, "buy now", "spam"), (2, "nice song", "ham"), (3, "subscribe", "spam")])
    rep = import_file(proj, f)
    assert (rep.rows, rep.inserted, rep.votes) == (3, 3, 3)
    first = _snapshot(proj)
    rep2 = import_file(proj, f)
    assert (rep2.inserted, rep2.updated, rep2.unchanged) == (0, 0, 3)
    pd.testing.assert_frame_equal(first[0], _snapshot(proj)[0])
    pd.testing.assert_frame_equal(first[1], _snapshot(proj)[1])
    _csv(f, [(1, "buy now", "spam"), (2, "lovely song", "ham"), (3, "subscribe", "ham")])
    rep3 = import_file(proj, f)
    assert (rep3.inserted, rep3.updated, rep3.unchanged) == (0, 1, 2)
    items, votes = _snapshot(proj)
    assert items.text.tolist() == ["buy now", "lovely song", "subscribe"]
    assert votes.label.tolist() == ["spam", "ham", "ham"]
    assert set(votes.source) == {"import:d"}
    st = project_stats(proj)
    assert st["items"] == 3 and st["votes"] == 3 and st["labels"] == {"ham": 2, "spam": 1}
    assert st["imbalance_ratio"] == 2.0
    assert proj.schema.classes == ["spam", "ham"]


def test_rows_kept_from_the_check_pass_or_read_again_give_the_same_store(make_project, tmp_path, monkeypatch):
    """Small files are written from the rows parsed while checking; larger ones (beyond the
    cache budget) are streamed a second time: both give the same items and votes."""
    from labelloop.io import importers

    rows = [(i, f"text {i}", "a" if i % 3 else "b") for i in range(40)]
    f = _csv(tmp_path / "d.csv", rows)
    cached = make_project(task="single")
    rep = import_file(cached, f, batch_size=7)
    seen = []
    real = importers._validate

    def spy(*a, **kw):
        n = real(*a, **kw)
        seen.append(len(kw["cache"]))
        return n

    monkeypatch.setattr(importers, "_validate", spy)
    monkeypatch.setattr(importers, "ROW_CACHE_BYTES", 5 * importers._ROW_OVERHEAD)  # a few rows, then it gives up
    streamed = make_project(task="single")
    rep2 = import_file(streamed, f, batch_size=7)
    assert seen == [0]  # the cache overflowed and was dropped: the file was read again
    assert (rep.inserted, rep.votes) == (rep2.inserted, rep2.votes) == (40, 40)
    for a, b in zip(_snapshot(cached), _snapshot(streamed), strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert import_file(streamed, f).unchanged == 40


@pytest.mark.parametrize(
    "content, error, message",
    [
        (b"id,text,label\n1,a,x\n2,b,y\n1,c,z\n", DuplicateIdError, "duplicate id '1' (lines 2 and 4)"),
        (b"id,text,label\n1,a,x\n2,b\n", InputError, "d.csv:3: expected 3 fields"),
        (b"id,text,label\n1,a,x\n2,caf\xe9,y\n", InputError, "d.csv:3: invalid UTF-8"),
        (b"id,words\n1,a\n", InputError, "no text column"),
        (b"id,text,label\n1,a,x\n,b,y\n", InputError, "d.csv:3: empty id"),
    ],
)
def test_bad_input_leaves_store_exactly_as_it_was(make_project, tmp_path, content, error, message):
    proj = make_project(task="single")
    import_file(proj, _csv(tmp_path / "ok.csv", [(10, "kept", "ham")]))
    before = _snapshot(proj)
    f = tmp_path / "d.csv"
    f.write_bytes(content)
    with pytest.raises(error) as err:
        import_file(proj, f, batch_size=1)  # batch of 1: a later bad row must not leave earlier rows behind
    assert message in str(err.value)
    after = _snapshot(proj)
    pd.testing.assert_frame_equal(before[0], after[0])
    pd.testing.assert_frame_equal(before[1], after[1])


def test_label_outside_schema_is_rejected_before_writing(make_project, tmp_path):
    proj = make_project(task="single", labels=["ham", "spam"], unknown="error")
    f = _csv(tmp_path / "d.csv", [(1, "a", "ham"), (2, "b", "eggs")])
    with pytest.raises(SchemaError, match="d.csv:3: .*'eggs'"):
        import_file(proj, f)
    assert project_stats(proj)["items"] == 0


def test_interrupted_import_can_be_rerun_without_duplicates(make_project, tmp_path):
    proj = make_project(task="single")
    rows = [(i, f"text {i}", "a" if i % 3 else "b") for i in range(250)]
    f = _csv(tmp_path / "d.csv", rows)

    def stop_after_two_batches(done):
        if done >= 100:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_file(proj, f, batch_size=50, on_batch=stop_after_two_batches)
    assert project_stats(proj)["items"] == 100  # two committed batches
    rep = import_file(proj, f, batch_size=50)
    assert (rep.inserted, rep.unchanged) == (150, 100)
    st = project_stats(proj)
    assert st["items"] == 250 and st["votes"] == 250


def test_items_added_by_someone_else_during_an_import_into_an_empty_project(make_project, tmp_path, monkeypatch):
    """An import into an empty project skips the look-up of existing ids; if another writer adds
    one of its ids meanwhile, the batch is redone with the look-up: no duplicate, nothing lost."""
    import labelloop.io.importers as importers

    proj = make_project(task="single")
    f = _csv(tmp_path / "d.csv", [(i, f"text {i}", "a" if i % 2 else "b") for i in range(120)])
    other = _csv(tmp_path / "o.csv", [(77, "text 77", "a"), (500, "elsewhere", "b")])
    real, calls = importers._write_batch, []

    def racing(project, batch, *a, assume_new=False, **kw):
        calls.append(assume_new)
        if len(calls) == 2:  # between the first and second batch, another import lands
            monkeypatch.setattr(importers, "_write_batch", real)
            import_file(proj, other)
            monkeypatch.setattr(importers, "_write_batch", racing)
        return real(project, batch, *a, assume_new=assume_new, **kw)

    monkeypatch.setattr(importers, "_write_batch", racing)
    rep = import_file(proj, f, batch_size=50)
    assert calls == [True, True, False, False]  # the second batch failed whole, then was redone
    assert (rep.rows, rep.inserted, rep.unchanged, rep.votes) == (120, 119, 1, 120)
    items, votes = _snapshot(proj)
    assert len(items) == 121 and items.external_id.is_unique
    assert len(votes) == 122 and not votes.duplicated(["external_id", "source"]).any()


def test_madewithml_with_taxonomy_adds_parents(make_project, shared_data):
    proj = make_project(task="multi")
    mwm = shared_data / "madewithml"
    rep = import_file(proj, mwm / "projects.json", taxonomy=mwm / "tags.json")
    assert rep.format == "madewithml" and rep.inserted == 2029
    with proj.session() as s:
        votes = repo.votes_frame(s, proj.id)
    assert len(votes) == 2029 and set(votes.source_kind) == {"import"}
    tax = proj.schema.taxonomy
    checked = 0
    for tags in votes.label:
        for t in tags:
            assert tax.ancestors(t) <= set(tags), (t, tags)
        checked += "active-learning" in tags
    assert checked > 0
    with_al = [t for t in votes.label if "active-learning" in t]
    assert all("semi-supervised-learning" in t for t in with_al)
    st = project_stats(proj)
    assert st["items"] == 2029 and st["labels"]["semi-supervised-learning"] >= len(with_al)


def test_answers_and_gold_become_per_source_votes(make_project, tmp_path, shared_data):
    proj = make_project(task="single")
    rep = import_file(proj, shared_data / "crowd" / "duck" / "answer.csv")
    assert rep.format == "answers" and rep.votes == 4212
    with proj.session() as s:
        srcs = repo.sources_frame(s, proj.id)
    assert len(srcs) == 39 and set(srcs.kind) == {"human"}
    gold = tmp_path / "gold.csv"
    gold.write_text("id,label\n1,1\n2,0\n")
    import_file(proj, gold, fmt="gold")
    with proj.session() as s:
        g = repo.votes_frame(s, proj.id, kinds=["gold"])
    assert sorted(g.external_id) == ["1", "2"]


def test_duplicate_answer_of_one_worker_is_rejected(make_project, tmp_path):
    proj = make_project(task="single")
    f = tmp_path / "a.csv"
    f.write_text("task,worker,label\nt1,w1,a\nt1,w2,b\nt1,w1,b\n")
    with pytest.raises(DuplicateIdError, match="lines 2 and 4"):
        import_file(proj, f)


def test_image_folder_by_class_and_bad_image(make_project, tmp_path):
    from PIL import Image

    root = tmp_path / "imgs"
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (8, 8), color=i * 40).save(root / cls / f"{i}.png")
    proj = make_project(task="single", data="image")
    rep = import_file(proj, root)
    assert rep.format == "folder" and rep.inserted == 6
    assert project_stats(proj)["labels"] == {"cat": 3, "dog": 3}
    (root / "dog" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(InvalidImageError, match="broken.png"):
        import_file(proj, root)
    assert project_stats(proj)["items"] == 6


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_export_streams_labels_and_votes(make_project, tmp_path, fmt):
    proj = make_project(task="single")
    import_file(proj, _csv(tmp_path / "d.csv", [(i, f"t{i}", "a" if i % 2 else "b") for i in range(12)]))
    with proj.session() as s:
        items = repo.items_frame(s, proj.id)
        frame = pd.DataFrame({"item_id": items.item_id, "label": ["a"] * len(items), "confidence": [0.75] * len(items)})
        repo.write_labels(s, proj.id, frame, method="test")
    out = tmp_path / f"out.{fmt}"
    assert export_labels(proj, out, votes=True) == 12
    if fmt == "csv":
        df = pd.read_csv(out)
        votes = [json.loads(v) for v in df.votes]
    elif fmt == "jsonl":
        df = pd.read_json(out, lines=True)
        votes = list(df.votes)
    else:
        df = pd.read_parquet(out)
        votes = [json.loads(v) for v in df.votes]
    assert len(df) == 12 and set(df.label) == {"a"} and set(df.confidence) == {0.75}
    assert [v[0]["label"] for v in votes] == ["a" if i % 2 else "b" for i in range(12)]
    assert not (tmp_path / f"out.{fmt}.part").exists()
