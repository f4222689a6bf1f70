"""The background worker: every K new human answers it runs one round of the loop.

A round is a plain function ``round_fn(handle) -> dict`` (pluggable: the learning loop's round
retrains the model and refreshes pre-labels and priorities). The default round re-estimates
annotator skills and re-aggregates every answered item with them (a one-coin Dawid-Skene EM).
Rounds write in small transactions so annotators are never held up for long; each round is
recorded in ``worker_runs`` and shown on the admin page. Run it as a thread beside the server,
or as its own process with ``labelloop worker DIR`` (PostgreSQL deployments).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, update

from labelloop.store.models import AnnotatorStat, Source, Vote, WorkerRun, utcnow
from labelloop.store.queue import _V, _write_label, aggregate_votes

log = logging.getLogger("labelloop.worker")
WRITE_CHUNK = 500


def human_answers(handle) -> int:
    with handle.db.reading() as s:
        human = select(Source.id).where(Source.project_id == handle.id, Source.kind == "human")
        return int(s.scalar(select(func.count()).select_from(Vote).where(Vote.source_id.in_(human))) or 0)


def reaggregate_round(handle, *, max_iter: int = 10) -> dict[str, Any]:
    """One-coin EM over every vote: annotator accuracies <-> item posteriors.

    Skills are written to ``annotator_stats.skill``; labels whose value changed are rewritten.
    """
    ctx = handle.ctx
    with handle.db.reading() as s:
        rows = s.execute(
            select(Vote.item_id, Source.kind, Source.user_id, Source.id, Vote.value)
            .join(Source, Source.id == Vote.source_id)
            .where(Source.project_id == handle.id, Source.kind != "prelabel")
        ).all()
    by_item: dict[int, list[tuple[int, str, Any]]] = {}
    for iid, kind, _uid, sid, value in rows:
        by_item.setdefault(iid, []).append((sid, kind, value))
    users = {sid: uid for _, kind, uid, sid, _ in rows if kind == "human"}
    acc = {sid: ctx.settings.prior_accuracy for sid in users}
    labels: dict[int, tuple] = {}
    from labelloop.store.queue import same_label

    for _ in range(max_iter):
        labels = {}
        for iid, vs in by_item.items():
            votes = [_V(kind=k, user_id=None, value=v, weight=None) for _, k, v in vs]
            w = [acc.get(sid, 0.99 if k == "gold" else ctx.settings.model_accuracy) for sid, k, _ in vs]
            agg = aggregate_votes(ctx.schema, votes, w, ctx.settings)
            if agg is not None:
                labels[iid] = agg
        hits: dict[int, list[float]] = {sid: [0.0, 0.0] for sid in acc}
        for iid, vs in by_item.items():
            if iid not in labels:
                continue
            for sid, k, v in vs:
                if k == "human":
                    hits[sid][0] += same_label(v, labels[iid][0])
                    hits[sid][1] += 1
        new = {sid: (h + 2 * ctx.settings.prior_accuracy) / (n + 2) for sid, (h, n) in hits.items()}
        delta = max((abs(new[k] - acc[k]) for k in acc), default=0.0)
        acc = new
        if delta < 1e-4:
            break
    # write skills, then labels in small transactions
    with handle.db.writing() as s:
        for sid, a in acc.items():
            uid = users.get(sid)
            if uid is not None:
                s.execute(update(AnnotatorStat).where(AnnotatorStat.project_id == handle.id, AnnotatorStat.user_id == uid).values(skill=float(a)))
    items = list(labels.items())
    for i in range(0, len(items), WRITE_CHUNK):
        with handle.db.writing() as s:
            for iid, (value, conf, probs) in items[i : i + WRITE_CHUNK]:
                _write_label(s, ctx, iid, value, conf, probs, method="one-coin-em")
    return {"items": len(labels), "annotators": len(acc), "skills": {str(users[k]): round(v, 4) for k, v in acc.items() if users.get(k)}}


def default_round(handle) -> dict[str, Any]:
    """Re-aggregate with re-estimated skills, then (when the learning loop is installed and the
    project's ``worker_loop`` setting is on) one loop round: retrain the model on the labels,
    write its predictions (the UI's pre-labels, and one more voter in the live consensus) and
    the queue priorities."""
    out: dict[str, Any] = {"aggregate": reaggregate_round(handle)}
    if handle.ctx.settings.worker_loop:
        try:
            from labelloop.loop.project import run_loop_round
        except ImportError:
            out["loop"] = "the learning loop (labelloop.loop) is not available: pre-labels and priorities were not refreshed"
        else:
            emb = handle.ctx.settings.loop_embed_model
            out["loop"] = run_loop_round(handle.project, embed_model=emb)
            if out["loop"].get("human_labels", 0) >= 20:
                from labelloop.loop.project import project_cost

                try:  # learning curve + labels and cost still needed, for the dashboard
                    out["forecast"] = project_cost(handle.project, embed_model=emb)
                except Exception as exc:  # too few labels per class for a curve yet
                    out["forecast"] = {"error": f"{exc.__class__.__name__}: {exc}"}
    return out


class Worker:
    """Runs ``round_fn`` whenever ``retrain_every`` new human answers have arrived."""

    def __init__(self, handle, round_fn: Callable[[Any], dict] | None = None, *, poll_seconds: float = 2.0):
        self.handle = handle
        self.round_fn = round_fn or default_round
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_answers: int | None = None
        self.rounds = 0
        self.running = False
        self.last_error: str | None = None
        self.last_round_at: float | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"labelloop-worker-{self.handle.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "rounds": self.rounds,
            "answers_seen": self.last_answers,
            "every": self.handle.ctx.settings.retrain_every,
            "last_error": self.last_error,
            "seconds_since_round": None if self.last_round_at is None else round(time.monotonic() - self.last_round_at, 1),
        }

    def due(self) -> tuple[bool, int]:
        n = human_answers(self.handle)
        if self.last_answers is None:
            self.last_answers = n
            return False, n
        return n - self.last_answers >= self.handle.ctx.settings.retrain_every, n

    def run_once(self, answers: int | None = None) -> dict[str, Any]:
        """Run one round now, recording it in ``worker_runs``."""
        h = self.handle
        answers = human_answers(h) if answers is None else answers
        with h.db.writing() as s:
            run = WorkerRun(project_id=h.id, state="running", answers=answers, details={}, started_at=utcnow())
            s.add(run)
            s.flush()
            run_id = run.id
        self.running = True
        t0 = time.perf_counter()
        try:
            details = self.round_fn(h) or {}
            state, msg = "done", f"round finished in {time.perf_counter() - t0:.1f} s"
        except Exception as exc:  # a failed round must not stop the server
            details, state, msg = {"traceback": traceback.format_exc(limit=5)}, "failed", f"{exc.__class__.__name__}: {exc}"
            self.last_error = msg
            log.exception("worker round failed")
        finally:
            self.running = False
        with h.db.writing() as s:
            s.execute(update(WorkerRun).where(WorkerRun.id == run_id).values(state=state, message=msg, details=_jsonable(details), finished_at=utcnow()))
        self.rounds += 1
        self.last_answers = answers
        self.last_round_at = time.monotonic()
        return {"state": state, "message": msg, "details": details}

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.handle.refresh()
                ok, n = self.due()
                if ok:
                    self.run_once(n)
            except Exception:  # pragma: no cover - logged, keeps the thread alive
                log.exception("worker poll failed")

    def run_forever(self) -> None:
        """Foreground loop for ``labelloop worker DIR``."""
        try:
            self._run()
        except KeyboardInterrupt:
            pass


def _jsonable(obj: Any) -> Any:
    import json

    return json.loads(json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
