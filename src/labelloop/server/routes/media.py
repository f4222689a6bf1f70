"""Item content for the UI: images (only from inside the project's media roots) and, for
reviewers, the full item with its votes."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from sqlalchemy import select

from labelloop.exceptions import AccessError, NotFoundError
from labelloop.server.deps import ProjectDep, ReviewerDep, UserDep
from labelloop.server.schemas import ItemFull
from labelloop.store import queue
from labelloop.store.models import Assignment, Item

router = APIRouter(prefix="/api/v1", tags=["items"])

IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp", "image/tiff"}


def media_path(handle, image: str) -> Path:
    """The file of an item's image, refused unless it resolves inside a media root."""
    p = Path(image)
    p = (p if p.is_absolute() else handle.project.dir / p).resolve()
    if not any(p.is_relative_to(root) for root in handle.media_roots()):
        raise AccessError("this item's image is outside the project's media roots; an admin can add its folder with "
                          "labelloop configure DIR --media-root FOLDER")
    if not p.is_file():
        raise NotFoundError("the image file of this item is missing")
    return p


@router.get("/projects/{name}/items/{item_id}/media", summary="The image of an item (annotators: only items handed to them)")
def media(user: UserDep, handle: ProjectDep, item_id: int) -> FileResponse:
    with handle.db.reading() as s:
        image = s.scalar(select(Item.image).where(Item.id == item_id, Item.project_id == handle.id))
        if image is None:
            raise NotFoundError(f"item {item_id} has no image in this project")
        if not user.can_review:
            mine = s.scalar(select(Assignment.id).where(Assignment.item_id == item_id, Assignment.user_id == user.id))
            if mine is None:
                raise AccessError(f"item {item_id} was not handed to you")
    path = media_path(handle, image)
    ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if ctype not in IMAGE_TYPES:
        raise AccessError("only image files are served")
    return FileResponse(path, media_type=ctype, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/projects/{name}/items/{item_id}", response_model=ItemFull, summary="An item with every vote (reviewers)")
def item(user: ReviewerDep, handle: ProjectDep, item_id: int) -> ItemFull:
    with handle.db.reading() as s:
        p = queue.item_payload(s, handle.ctx, item_id, full=True)
    url = f"/api/v1/projects/{handle.name}/items/{item_id}/media" if p.pop("has_image") else None
    return ItemFull(image_url=url, **p)
