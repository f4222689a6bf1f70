"""Read-only figures for the admin and reviewer pages: progress, throughput, agreement,
annotator skills, labeling functions, the review queue and the worker's rounds."""

from __future__ import annotations

from datetime import timedelta
from itertools import combinations
from typing import Any

from sqlalchemy import and_, case, func, select, true
from sqlalchemy.orm import Session

from labelloop.store.models import AnnotatorStat, Item, Label, Source, User, Vote, WorkerRun, utcnow
from labelloop.store.queue import QueueContext, same_label

MAX_AGREEMENT_VOTES = 200_000  # most recent human votes used for the agreement figure


def overview(s: Session, ctx: QueueContext) -> dict[str, Any]:
    pid = ctx.project_id
    items = s.scalar(select(func.count()).select_from(Item).where(Item.project_id == pid)) or 0
    open_ = s.scalar(select(func.count()).select_from(Item).where(Item.project_id == pid, Item.q_open == true())) or 0
    answered = s.scalar(select(func.count()).select_from(Item).where(Item.project_id == pid, Item.q_done > 0)) or 0
    labels = s.scalar(select(func.count()).select_from(Label).where(Label.project_id == pid)) or 0
    human = select(Source.id).where(Source.project_id == pid, Source.kind == "human")
    answers = s.scalar(select(func.count()).select_from(Vote).where(Vote.source_id.in_(human))) or 0
    gold = s.scalar(
        select(func.count(func.distinct(Vote.item_id))).join(Source, Source.id == Vote.source_id).where(Source.project_id == pid, Source.kind == "gold")
    ) or 0
    now = utcnow()
    recent = s.scalars(select(Vote.created_at).where(Vote.source_id.in_(human), Vote.created_at >= now - timedelta(hours=1))).all()
    per_min = [0] * 60
    for t in recent:
        k = int((now - t).total_seconds() // 60)
        if 0 <= k < 60:
            per_min[59 - k] += 1
    return {
        "items": int(items),
        "open": int(open_),
        "answered_items": int(answered),
        "labelled_items": int(labels),
        "answers": int(answers),
        "gold_items": int(gold),
        "complete": round(1 - open_ / items, 4) if items else 0.0,
        "throughput": {"last_hour": len(recent), "last_10_min": sum(per_min[-10:]), "per_minute": per_min},
        "agreement": agreement(s, ctx),
        "settings": ctx.settings.to_dict(),
    }


def agreement(s: Session, ctx: QueueContext) -> dict[str, Any]:
    """Pairwise agreement of human answers on items answered by two or more people."""
    rows = s.execute(
        select(Vote.item_id, Vote.value)
        .join(Source, Source.id == Vote.source_id)
        .where(Source.project_id == ctx.project_id, Source.kind == "human")
        .order_by(Vote.id.desc())
        .limit(MAX_AGREEMENT_VOTES)
    ).all()
    by_item: dict[int, list[Any]] = {}
    for iid, v in rows:
        by_item.setdefault(iid, []).append(v)
    pairs = agree = items = 0
    for vals in by_item.values():
        if len(vals) < 2:
            continue
        items += 1
        for a, b in combinations(vals, 2):
            pairs += 1
            agree += same_label(a, b)
    return {"items": items, "pairs": pairs, "pairwise": round(agree / pairs, 4) if pairs else None}


def annotators(s: Session, ctx: QueueContext) -> list[dict[str, Any]]:
    q = (
        select(User.name, User.role, User.paused_reason, AnnotatorStat)
        .join(AnnotatorStat, (AnnotatorStat.user_id == User.id) & (AnnotatorStat.project_id == ctx.project_id), isouter=True)
        .order_by(User.name)
    )
    out = []
    for name, role, paused, st in s.execute(q).all():
        if st is None:
            out.append({"name": name, "role": role, "answers": 0, "honeypots": 0, "honeypot_accuracy": None, "weight": ctx.settings.prior_accuracy,
                        "peer_agreement": None, "skill": None, "seconds_per_answer": None, "paused": paused})
            continue
        out.append({
            "name": name,
            "role": role,
            "answers": st.answers,
            "honeypots": st.honeypots,
            "honeypot_accuracy": round(st.honeypots_correct / st.honeypots, 4) if st.honeypots else None,
            "weight": round(st.weight, 4),
            "peer_agreement": round(st.peer_agree / st.peer_checks, 4) if st.peer_checks else None,
            "skill": None if st.skill is None else round(st.skill, 4),
            "seconds_per_answer": round(st.seconds / st.answers, 2) if st.answers else None,
            "paused": paused,
        })
    return out


def labeling_functions(s: Session, ctx: QueueContext) -> list[dict[str, Any]]:
    """Coverage of each labeling function and its agreement with the final labels."""
    pid = ctx.project_id
    n_items = s.scalar(select(func.count()).select_from(Item).where(Item.project_id == pid)) or 0
    out = []
    for sid, name in s.execute(select(Source.id, Source.name).where(Source.project_id == pid, Source.kind == "lf").order_by(Source.name)).all():
        rows = s.execute(select(Vote.value, Label.value).join(Label, Label.item_id == Vote.item_id, isouter=True).where(Vote.source_id == sid)).all()
        with_label = [(v, lab) for v, lab in rows if lab is not None]
        out.append({
            "name": name,
            "votes": len(rows),
            "coverage": round(len(rows) / n_items, 4) if n_items else 0.0,
            "agreement_with_labels": round(sum(same_label(v, lab) for v, lab in with_label) / len(with_label), 4) if with_label else None,
        })
    return out


def suspect_ids(s: Session, ctx: QueueContext) -> list[int]:
    """Items the quality checks flagged as probable label errors and not yet sent back."""
    return [int(i) for i in s.scalars(select(Item.id).where(Item.project_id == ctx.project_id, Item.priority_reason == "error-review"))]


def review_queue(s: Session, ctx: QueueContext, *, limit: int = 50) -> list[dict[str, Any]]:
    """Suspected label errors (the quality checks write them as priority reason 'error-review';
    those sent back for more answers have reason 'error-relabel') first, then disagreements:
    items whose live aggregate is below the confidence target."""
    from labelloop.store.queue import REVIEW_PRIORITY, REVIEW_REASON

    pid = ctx.project_id
    out: list[dict[str, Any]] = []
    # open re-labelling requests first, then the suspects, then finished re-labelling
    stage = case((and_(Item.priority_reason == REVIEW_REASON, Item.q_open == true()), 0),
                 (Item.priority_reason == "error-review", 1), else_=2)
    suspects = s.execute(
        select(Item.id, Item.text, Item.priority, Item.priority_reason, Item.q_done, Item.q_extra, Item.q_review, Label.value, Label.confidence)
        .join(Label, Label.item_id == Item.id, isouter=True)
        .where(Item.project_id == pid, Item.priority_reason.in_(("error-review", REVIEW_REASON)))
        .order_by(stage, Item.priority.desc(), Item.id)
        .limit(limit)
    ).all()
    for iid, text, prio, why, done, extra, review, lab, conf in suspects:
        row = {"item_id": iid, "text": (text or "")[:200], "label": lab, "confidence": conf, "reason": "suspected error", "score": prio}
        if why == REVIEW_REASON:
            asked = ctx.settings.overlap + extra + review
            row["score"] = max(prio - REVIEW_PRIORITY, 0.0)
            row["reason"] = f"re-labelling: {min(done, asked)} of {asked} answers" if done < asked else f"re-labelled ({done} answers)"
            row["answers"], row["answers_asked"] = done, asked
        out.append(row)
    if len(out) < limit:
        human = select(Source.id).where(Source.project_id == pid, Source.kind == "human")
        n_votes = select(func.count()).where(Vote.item_id == Item.id, Vote.source_id.in_(human)).scalar_subquery()
        rows = s.execute(
            select(Item.id, Item.text, Label.value, Label.confidence, n_votes.label("n"))
            .join(Label, Label.item_id == Item.id)
            .where(Item.project_id == pid, Label.confidence < ctx.settings.confidence_target, n_votes >= 2)
            .order_by(Label.confidence, Item.id)
            .limit(limit - len(out))
        ).all()
        seen = {r["item_id"] for r in out}
        for iid, text, lab, conf, n in rows:
            if iid not in seen:
                out.append({"item_id": iid, "text": (text or "")[:200], "label": lab, "confidence": conf, "reason": f"disagreement ({n} answers)", "score": None})
    return out


def worker_runs(s: Session, ctx: QueueContext, *, limit: int = 20) -> list[dict[str, Any]]:
    rows = s.scalars(select(WorkerRun).where(WorkerRun.project_id == ctx.project_id).order_by(WorkerRun.id.desc()).limit(limit)).all()
    return [
        {"id": r.id, "state": r.state, "answers": r.answers, "message": r.message, "details": r.details,
         "started_at": r.started_at.isoformat() + "Z", "finished_at": r.finished_at.isoformat() + "Z" if r.finished_at else None}
        for r in rows
    ]
