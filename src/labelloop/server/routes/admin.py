"""Admin and reviewer API: progress, annotators, review queue, worker, exports, settings, users."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from labelloop.server import insights
from labelloop.server.deps import AdminDep, ProjectDep, ReviewerDep, StateDep
from labelloop.server.schemas import RequeueRequest, SettingsUpdate, UserCreate, UserPublic
from labelloop.store import queue, users
from labelloop.store.queue import QueueSettings, validate_settings

router = APIRouter(prefix="/api/v1/projects/{name}/admin", tags=["admin"])
users_router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


@router.get("/overview", summary="Progress, throughput and agreement")
def overview(user: ReviewerDep, handle: ProjectDep) -> dict:
    with handle.db.reading() as s:
        out = insights.overview(s, handle.ctx)
    w = handle_worker(handle)
    out["worker"] = w
    return out


def handle_worker(handle) -> dict | None:
    worker = getattr(handle, "worker", None)
    return None if worker is None else worker.status()


@router.get("/annotators", summary="Annotator skills and honeypot accuracy")
def annotators(user: ReviewerDep, handle: ProjectDep) -> list[dict]:
    with handle.db.reading() as s:
        return insights.annotators(s, handle.ctx)


@router.post("/annotators/{user_name}/resume", status_code=204, summary="Resume a paused annotator")
def resume(user: AdminDep, state: StateDep, handle: ProjectDep, user_name: str) -> Response:
    with handle.db.writing() as s:
        row = users.get_user(s, user_name)
        users.set_paused(s, row.id, None)
        uid = row.id
    state.forget_logins(user_id=uid)
    return Response(status_code=204)


@router.get("/labeling-functions", summary="Labeling function coverage and agreement with the labels")
def labeling_functions(user: ReviewerDep, handle: ProjectDep) -> list[dict]:
    with handle.db.reading() as s:
        return insights.labeling_functions(s, handle.ctx)


@router.get("/review", summary="Review queue: suspected label errors, then disagreements")
def review(user: ReviewerDep, handle: ProjectDep, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict]:
    with handle.db.reading() as s:
        return insights.review_queue(s, handle.ctx, limit=limit)


@router.post("/review/requeue", summary="Send suspected label errors back to the annotators for more answers")
def review_requeue(user: AdminDep, handle: ProjectDep, body: RequeueRequest) -> dict:
    """Each item is served first by ``/next`` to annotators who have not answered it, until it
    has ``extra_answers`` more answers; its label is then re-aggregated from all its answers."""
    with handle.db.writing() as s:
        ids = body.item_ids if body.item_ids is not None else insights.suspect_ids(s, handle.ctx)
        out = queue.requeue_items(s, handle.ctx.project_id, handle.ctx.settings, ids, extra_answers=body.extra_answers)
    queue.invalidate_open_count(handle.ctx)  # the open-items count changed
    return {**out, "extra_answers": body.extra_answers}


@router.get("/worker", summary="The background worker's recent rounds")
def worker(user: ReviewerDep, handle: ProjectDep) -> dict:
    with handle.db.reading() as s:
        runs = insights.worker_runs(s, handle.ctx)
    return {"status": handle_worker(handle), "runs": runs}


@router.get("/settings", summary="Queue settings of the project")
def get_settings(user: AdminDep, handle: ProjectDep) -> dict:
    return handle.ctx.settings.to_dict()


@router.put("/settings", summary="Change queue settings (overlap, honeypot rate, lease, blind mode...)")
def put_settings(user: AdminDep, handle: ProjectDep, body: SettingsUpdate) -> dict:
    values = validate_settings(body.model_dump(exclude_none=True))
    merged = QueueSettings.from_dict({**handle.ctx.settings.to_dict(), **values})
    if merged.max_overlap and merged.max_overlap < merged.overlap:
        from labelloop.exceptions import InputError

        raise InputError(f"max_overlap ({merged.max_overlap}) must be 0 or at least overlap ({merged.overlap})")
    handle.project.update_settings(**values)
    handle.refresh(force=True)
    return handle.ctx.settings.to_dict()


@router.get("/export", summary="Stream the final labels (csv or jsonl)")
def export(user: ReviewerDep, handle: ProjectDep, format: Literal["csv", "jsonl"] = "jsonl", votes: bool = False) -> StreamingResponse:
    from labelloop.io.exporters import iter_export_records

    multi = handle.ctx.schema.is_multi
    text_col = "text" if handle.project.data_type == "text" else "image"
    if votes:  # with every vote: the exporter's records
        records = iter_export_records(handle.project, votes=True)
    else:  # labels only: a lean keyset scan (streams a million labels in well under a minute)
        records = (
            {k: v for k, v in (("id", ext), ("text", text), ("image", image), ("label", lab), ("confidence", conf), ("method", method))
             if v is not None or k in ("label", "confidence", "method")}
            for ext, text, image, lab, conf, method in queue.iter_labels(handle.db, handle.ctx)
        )
    dumps = json.JSONEncoder(ensure_ascii=False).encode

    def jsonl():
        buf = []
        for rec in records:
            buf.append(dumps(rec))
            if len(buf) >= 5000:
                yield "\n".join(buf) + "\n"
                buf = []
        if buf:
            yield "\n".join(buf) + "\n"

    def csv_rows():
        cols = ["id", text_col, "label", "confidence", "method"] + (["votes"] if votes else [])
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(cols)
        n = 0
        for rec in records:
            row = []
            for c in cols:
                v = rec.get(c)
                if c == "label" and multi and isinstance(v, list):
                    v = "|".join(v)
                elif isinstance(v, (list, dict)):
                    v = json.dumps(v, ensure_ascii=False)
                row.append(v)
            w.writerow(row)
            n += 1
            if n % 5000 == 0:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    media = "application/x-ndjson" if format == "jsonl" else "text/csv"
    fname = f"{handle.name}-labels.{format}"
    return StreamingResponse(jsonl() if format == "jsonl" else csv_rows(), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{fname}"'})


@users_router.get("/users", summary="Every user (admins)")
def list_users(user: AdminDep, state: StateDep) -> list[UserPublic]:
    with state.auth_db.reading() as s:
        return [UserPublic(name=u.name, role=u.role, paused_reason=u.paused_reason) for u in users.list_users(s)]


@users_router.post("/users", status_code=201, summary="Create a user (admins)")
def create_user(user: AdminDep, state: StateDep, body: UserCreate) -> UserPublic:
    users.validate_user(body.name, body.role, body.password)
    pw_hash = users.hash_password(body.password)  # slow: outside the write transaction
    with state.auth_db.writing() as s:
        row = users.add_user(s, body.name, body.role, body.password, pw_hash=pw_hash)
        return UserPublic(name=row.name, role=row.role)


__all__ = ["router", "users_router", "queue"]
