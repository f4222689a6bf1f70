"""Request and response bodies of the REST API (separate create / update / public shapes)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class UserPublic(BaseModel):
    name: str
    role: str
    paused_reason: str | None = None


class LoginOut(BaseModel):
    user: UserPublic
    csrf_token: str


class Prelabel(BaseModel):
    label: Any
    confidence: float | None = None


class Progress(BaseModel):
    done: int
    remaining: int


class ItemOut(BaseModel):
    """An item as an annotator sees it: nothing says whether it is a honeypot."""

    item_id: int
    text: str | None = None
    image_url: str | None = None
    prelabel: Prelabel | None = None
    progress: Progress | None = None
    previous_label: Any = None  # after undo: the answer that was taken back


class ItemFull(ItemOut):
    """An item as a reviewer sees it: with its votes and final label."""

    external_id: str
    fields: dict[str, Any] = {}
    votes: list[dict[str, Any]] = []
    final: dict[str, Any] | None = None


class AnswerIn(Strict):
    item_id: int = Field(..., ge=1)
    label: str | list[str] = Field(..., description="a class name, or a list of tags for multi-label projects")
    comment: str | None = Field(None, max_length=2000)
    seconds: float | None = Field(None, ge=0, le=86400, description="time spent on the item")


class AnswerOut(BaseModel):
    item_id: int
    label: Any
    paused: str | None = None
    progress: Progress | None = None


class SkipIn(Strict):
    item_id: int = Field(..., ge=1)


class ProjectPublic(BaseModel):
    name: str
    task: str
    data_type: str
    classes: list[str]
    taxonomy: list[dict[str, Any]] | None = None
    mode: str = "label"
    blind: bool = False


class SettingsUpdate(Strict):
    overlap: int | None = None
    max_overlap: int | None = None
    confidence_target: float | None = None
    honeypot_rate: float | None = None
    lease_seconds: int | None = None
    honeypot_min: int | None = None
    pause_below: float | None = None
    prior_accuracy: float | None = None
    model_accuracy: float | None = None
    blind: bool | None = None
    mode: str | None = None
    retrain_every: int | None = None
    worker_loop: bool | None = None
    loop_embed_model: str | None = Field(None, max_length=200)
    media_roots: list[str] | None = None


class RequeueRequest(Strict):
    """Items to send back to the annotators; without ``item_ids``, every suspect on the review
    page (items flagged as probable label errors)."""

    item_ids: list[int] | None = Field(None, max_length=100_000)
    extra_answers: int = Field(2, ge=1, le=50)


class UserCreate(Strict):
    name: str = Field(..., min_length=1, max_length=100)
    role: str = "annotator"
    password: str = Field(..., min_length=8, max_length=200)
