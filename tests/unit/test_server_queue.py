"""Pure parts of the labelling queue: the live aggregate, settings, answers, SQL translation."""

from __future__ import annotations

import pytest

from labelloop.exceptions import InputError, SchemaError
from labelloop.schema import LabelSchema, Taxonomy
from labelloop.store.fastsql import _translate
from labelloop.store.queue import (
    _V,
    QueueSettings,
    aggregate_votes,
    normalize_answer,
    same_label,
    validate_settings,
)


def votes(*values, kind="human"):
    return [_V(kind=kind, user_id=i, value=v, weight=None) for i, v in enumerate(values)]


def test_single_label_posterior_is_hand_computable():
    schema = LabelSchema(classes=["a", "b"])
    st = QueueSettings()
    # one voter of accuracy 0.8: the posterior is its accuracy
    lab, conf, probs = aggregate_votes(schema, votes("a"), [0.8], st)
    assert lab == "a" and conf == pytest.approx(0.8)
    # two agreeing voters: odds 4 * 4 = 16 -> 16/17
    lab, conf, _ = aggregate_votes(schema, votes("a", "a"), [0.8, 0.8], st)
    assert conf == pytest.approx(16 / 17)
    # a tie is broken by name, at 0.5
    lab, conf, _ = aggregate_votes(schema, votes("b", "a"), [0.8, 0.8], st)
    assert (lab, conf) == ("a", pytest.approx(0.5))
    # a more accurate voter wins: 0.9 vs 0.6 -> odds 9 / 1.5 = 6 -> 6/7
    lab, conf, _ = aggregate_votes(schema, votes("b", "a"), [0.9, 0.6], st)
    assert lab == "b" and conf == pytest.approx(6 / 7)
    # three classes: a single 0.8 voter still gives 0.8 (odds 8 against 1 + 1)
    lab, conf, probs = aggregate_votes(LabelSchema(classes=["a", "b", "c"]), votes("c"), [0.8], st)
    assert lab == "c" and conf == pytest.approx(0.8) and set(probs) == {"c"}
    assert aggregate_votes(schema, [], [], st) is None


def test_multi_label_posterior_per_tag():
    schema = LabelSchema(task="multi", classes=["x", "y"])
    lab, conf, probs = aggregate_votes(schema, votes(["x"], ["x", "y"]), [0.8, 0.8], QueueSettings())
    assert lab == ["x"]
    assert probs["x"] == pytest.approx(16 / 17) and probs["y"] == pytest.approx(0.5)
    assert conf == pytest.approx(0.5)  # the least certain tag decides


def test_validate_settings():
    assert validate_settings({"overlap": "3", "honeypot_rate": 0.1, "blind": True, "mode": "accept_reject"}) == {
        "overlap": 3, "honeypot_rate": 0.1, "blind": True, "mode": "accept_reject"}
    for bad in ({"overlap": 0}, {"overlap": 2.5}, {"honeypot_rate": 0.9}, {"mode": "fast"}, {"blind": "yes"}, {"what": 1},
                {"lease_seconds": 1}, {"media_roots": "x"}):
        with pytest.raises(InputError):
            validate_settings(bad)
    assert QueueSettings.from_dict({"overlap": 2, "max_overlap": 4, "unknown_key": 1}).ceiling == 4


def test_normalize_answer_applies_the_taxonomy():
    tax = Taxonomy.from_records([{"tag": "ml"}, {"tag": "nlp", "aliases": ["natural-language"], "parents": ["ml"]}])
    multi = LabelSchema(task="multi", classes=[], taxonomy=tax)
    assert normalize_answer(multi, ["Natural Language"]) == ["ml", "nlp"]
    assert normalize_answer(multi, "nlp") == ["ml", "nlp"]
    with pytest.raises(SchemaError):
        normalize_answer(multi, ["nope"])
    with pytest.raises(SchemaError):
        normalize_answer(multi, [1])
    single = LabelSchema(classes=["ham", "spam"])
    assert normalize_answer(single, "spam") == "spam"
    for bad in ("eggs", ["ham"], True, None, "x" * 600):
        with pytest.raises(SchemaError):
            normalize_answer(single, bad)
    assert single.classes == ["ham", "spam"]  # answers never extend the schema


def test_same_label_and_sql_translation():
    assert same_label(["b", "a"], ["a", "b"]) and not same_label("a", "b") and same_label("a", "a")
    sql = "SELECT 1 WHERE a = :x AND b = :j_v AND c::text = 'x' AND d LIKE '%y'"
    assert _translate(sql, "sqlite") == sql
    assert _translate(sql, "postgresql") == "SELECT 1 WHERE a = %(x)s AND b = CAST(%(j_v)s AS JSON) AND c::text = 'x' AND d LIKE '%%y'"


def test_open_count_is_refreshed_by_one_request_and_less_often_when_slow(monkeypatch):
    import time

    import labelloop.store.queue as q

    ctx = q.QueueContext(project_id=1, schema=LabelSchema(classes=["a", "b"]), settings=QueueSettings())
    calls, seen_during = [], []

    class SlowCount:  # stands in for the SQL count: 50 ms, and another request arrives meanwhile
        def __init__(self, s):
            pass

        def scalar(self, sql, **kw):
            calls.append(sql)
            seen_during.append(q.open_count(None, ctx))  # must not start a second count
            time.sleep(0.05)
            return 7

    monkeypatch.setattr(q, "Raw", SlowCount)
    assert q.open_count(None, ctx) == 7
    assert len(calls) == 1 and seen_during == [0]  # the concurrent request got the previous figure
    # refreshed at most once per 20x its duration (here about 1 s), not on every call
    assert ctx._open_count_ttl >= 20 * 0.05
    assert q.open_count(None, ctx, ttl=0.0) == 7 and len(calls) == 1
    q.invalidate_open_count(ctx)  # e.g. suspects re-queued by the admin: counted again
    assert q.open_count(None, ctx) == 7 and len(calls) == 2


def test_progress_counts_are_refreshed_in_the_background_on_the_server(monkeypatch):
    """With a background runner (the server), stale progress counts are served from the cache and
    recounted off the request's transaction, one refresh per count at a time; the very first
    count is inline, and an answer given during a recount keeps its newer figure."""
    import labelloop.store.queue as q

    pending = []
    ctx = q.QueueContext(project_id=1, schema=LabelSchema(classes=["a", "b"]), settings=QueueSettings(), background=pending.append)
    figures = {"open": 50, "done": 3, "mine": 1}
    during_count = []  # what happens while the user's done-count query runs

    class FakeRaw:
        def __init__(self, s):
            pass

        def scalar(self, sql, **kw):
            if "FROM items" in sql:
                return figures["open"]
            if "state = 'done'" in sql:
                while during_count:
                    during_count.pop()()
                return figures["done"]
            return figures["mine"]

    monkeypatch.setattr(q, "Raw", FakeRaw)
    assert q.user_progress(None, ctx, 7) == {"done": 3, "remaining": 49}  # first time: counted inline
    assert pending == []
    figures.update(open=40, done=5, mine=0)
    monkeypatch.setattr(q.time, "monotonic", lambda real=q.time.monotonic: real() + 60)  # everything is stale
    assert q.user_progress(None, ctx, 7) == {"done": 3, "remaining": 49}  # the cached figures, at once
    assert len(pending) == 2  # the user's counts and the open count, queued
    assert q.user_progress(None, ctx, 7) == {"done": 3, "remaining": 49} and len(pending) == 2  # not queued twice
    # an answer arrives while the user's recount runs: its own count (6) is newer than the recount's
    during_count.append(lambda: q.user_progress(None, ctx, 7, done=6))
    for job in pending:
        job(None)
    pending.clear()
    assert ctx._progress[7][1:] == (6, 0) and ctx._open_count[1] == 40
    assert not ctx._refreshing
    # without a runner (library use) the counts are inline, as before
    inline = q.QueueContext(project_id=1, schema=LabelSchema(classes=["a", "b"]), settings=QueueSettings())
    assert q.user_progress(None, inline, 7) == {"done": 5, "remaining": 40}
