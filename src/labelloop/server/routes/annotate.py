"""The annotator's API: next item, answer, skip, undo, own progress, project schema."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from labelloop.server.deps import ProjectDep, StateDep, UserDep, write_now
from labelloop.server.responses import JSONBytes
from labelloop.server.schemas import AnswerIn, AnswerOut, ItemOut, Progress, ProjectPublic, SkipIn
from labelloop.store import queue

router = APIRouter(prefix="/api/v1", tags=["annotate"])


def _item_dict(handle, s, item_id: int, user_id: int) -> dict:
    """An item as the annotator sees it, in the shape of :class:`ItemOut`."""
    p = queue.item_payload(s, handle.ctx, item_id)
    url = f"/api/v1/projects/{handle.name}/items/{item_id}/media" if p["has_image"] else None
    pre = p["prelabel"]
    if pre is not None:
        pre = {"label": pre["label"], "confidence": pre.get("confidence")}
    return {"item_id": p["item_id"], "text": p["text"], "image_url": url, "prelabel": pre,
            "progress": queue.user_progress(s, handle.ctx, user_id), "previous_label": None}


def _public_item(handle, s, item_id: int, user_id: int) -> ItemOut:
    return ItemOut(**_item_dict(handle, s, item_id, user_id))


@router.get("/projects", summary="Projects served here")
def projects(state: StateDep, user: UserDep) -> list[ProjectPublic]:
    return [_project_public(h) for h in state.projects.values()]


def _project_public(h) -> ProjectPublic:
    sc = h.ctx.schema
    tax = sc.taxonomy.to_records() if (sc.is_multi and sc.taxonomy is not None) else None
    return ProjectPublic(name=h.name, task=sc.task.value, data_type=h.project.data_type, classes=list(sc.classes), taxonomy=tax,
                         mode=h.ctx.settings.mode, blind=h.ctx.settings.blind)


@router.get("/projects/{name}", response_model=ProjectPublic, summary="A project's label schema and UI mode")
def project(user: UserDep, handle: ProjectDep) -> ProjectPublic:
    return _project_public(handle)


@router.get(
    "/projects/{name}/next",
    response_model=ItemOut,
    responses={204: {"description": "nothing left for you"}, 403: {"description": "you are paused"}},
    summary="Lease the next item for me (the same one again until I answer, skip or it expires)",
)
async def next_item(request: Request, user: UserDep, handle: ProjectDep, after: Annotated[int | None, Query(ge=1, description="prefetch: lease another item beside this one")] = None):
    queue.check_active(user)
    rng = request.app.state.labelloop.rng

    def lease(s):  # one short transaction: lease, then read what to show
        item_id = queue.next_item(s, handle.ctx, user.id, rng=rng, after=after)
        return None if item_id is None else _item_dict(handle, s, item_id, user.id)

    out = await write_now(handle.db, lease)
    if out is None:
        return Response(status_code=204)
    return JSONBytes(out)  # the hot path: no response-model pass


@router.post("/projects/{name}/answers", response_model=AnswerOut, status_code=201, summary="Answer an item leased to me")
async def answer(request: Request, user: UserDep, handle: ProjectDep, body: AnswerIn):
    queue.check_active(user)
    label = queue.normalize_answer(handle.ctx.schema, body.label)
    sid = queue.cached_source_id(handle.ctx, user.id)
    if sid is None:  # the first answer: create the user's source in its own transaction
        sid = await run_in_threadpool(queue.ensure_human_source, handle.db, handle.ctx, user)

    def submit(s):
        res = queue.submit_answer(s, handle.ctx, user, body.item_id, label, comment=body.comment, seconds=body.seconds, source_id=sid)
        return res, queue.user_progress(s, handle.ctx, user.id, done=res.answers)

    res, prog = await write_now(handle.db, submit)
    if res.paused:
        request.app.state.labelloop.forget_logins(user_id=user.id)
    # the hot path: the AnswerOut shape without a response-model pass
    return JSONBytes({"item_id": res.item_id, "label": res.label, "paused": res.paused, "progress": prog}, status_code=201)


@router.post("/projects/{name}/skip", status_code=204, summary="Skip an item leased to me (it will not come back to me)")
def skip(user: UserDep, handle: ProjectDep, body: SkipIn) -> Response:
    queue.check_active(user)
    with handle.db.writing() as s:
        queue.skip_item(s, handle.ctx, user.id, body.item_id)
    return Response(status_code=204)


@router.post("/projects/{name}/undo", response_model=ItemOut, summary="Take back my last answer; returns that item again")
def undo(user: UserDep, handle: ProjectDep) -> ItemOut:
    queue.check_active(user)
    with handle.db.writing() as s:
        item_id, previous = queue.undo_last(s, handle.ctx, user)
    with handle.db.reading() as s:
        out = _public_item(handle, s, item_id, user.id)
    out.previous_label = previous
    return out


@router.get("/projects/{name}/progress", response_model=Progress, summary="My progress")
def progress(user: UserDep, handle: ProjectDep) -> Progress:
    with handle.db.reading() as s:
        return Progress(**queue.user_progress(s, handle.ctx, user.id))
