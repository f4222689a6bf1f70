"""SQLAlchemy ORM models: the data model of a labelloop store.

Every label is a :class:`Vote` from a :class:`Source` (a user, an import, a labeling function,
a model, gold, a propagation, a pre-label). Final labels (the aggregate) live in :class:`Label`,
one per item, and are always derived from votes; imported labels are votes, never truth.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SOURCE_KINDS = ("human", "gold", "import", "lf", "model", "propagation", "prelabel")
ROLES = ("admin", "reviewer", "annotator")
ASSIGNMENT_STATES = ("leased", "done", "skipped", "expired")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    data_type: Mapped[str] = mapped_column(String(16), default="text")  # text | image
    task_type: Mapped[str] = mapped_column(String(16), default="single")  # single | multi
    label_schema: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("project_id", "external_id", name="uq_items_project_external"),
        Index("ix_items_project_priority", "project_id", "priority"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(512))
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    image: Mapped[str | None] = mapped_column(Text, nullable=True)  # path of the image file
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    priority_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # queue counters kept by the labelling server (labelloop.store.queue)
    q_taken: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # live leases + answers
    q_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # answers received
    q_extra: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # extra answers asked (dynamic overlap)
    q_review: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # extra answers asked by a review (re-labelling)
    q_open: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())  # may be handed out


class Source(Base):
    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_sources_project_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # one of SOURCE_KINDS
    version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Vote(Base):
    """One answer of one source about one item (re-answering replaces it)."""

    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("item_id", "source_id", name="uq_votes_item_source"),
        Index("ix_votes_source", "source_id"),
        Index("ix_votes_project", "project_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    value: Mapped[Any] = mapped_column(JSON)  # a class name, or a list of tags
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    probabilities: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)  # time spent
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Label(Base):
    """The final (aggregated) label of an item, derived from its votes."""

    __tablename__ = "labels"
    __table_args__ = (Index("ix_labels_project", "project_id"),)

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    value: Mapped[Any] = mapped_column(JSON)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    probabilities: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    method: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="annotator")  # one of ROLES
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    active: Mapped[bool] = mapped_column(default=True)
    paused_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Assignment(Base):
    """An item handed to an annotator: leased until ``lease_expires_at``, then done or expired."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("item_id", "user_id", name="uq_assignments_item_user"),
        Index("ix_assignments_project_state", "project_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="leased")
    is_honeypot: Mapped[bool] = mapped_column(default=False)
    lease_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    honeypot_correct: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class Prediction(Base):
    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint("item_id", "model_version", name="uq_predictions_item_model"),
        Index("ix_predictions_project_model", "project_id", "model_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    model_version: Mapped[str] = mapped_column(String(128))
    label: Mapped[Any] = mapped_column(JSON)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    probabilities: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmbeddingSet(Base):
    """Metadata of vectors stored on disk (the vectors themselves live in files)."""

    __tablename__ = "embedding_sets"
    __table_args__ = (UniqueConstraint("project_id", "model", name="uq_embedding_sets_project_model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(200))
    dim: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer, default=0)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuthToken(Base):
    """A login: a browser session (cookie + CSRF token) or an API bearer token.

    Only the SHA-256 of the token is stored, so a copy of the database does not log anyone in.
    """

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="api")  # session | api
    csrf: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class AnnotatorStat(Base):
    """Live quality of one annotator on one project, updated with every answer."""

    __tablename__ = "annotator_stats"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    answers: Mapped[int] = mapped_column(Integer, default=0)
    honeypots: Mapped[int] = mapped_column(Integer, default=0)
    honeypots_correct: Mapped[int] = mapped_column(Integer, default=0)
    peer_checks: Mapped[int] = mapped_column(Integer, default=0)  # answers on items others had answered
    peer_agree: Mapped[int] = mapped_column(Integer, default=0)  # ... that matched the others' majority
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    weight: Mapped[float] = mapped_column(Float, default=0.8)  # accuracy used by the live aggregate
    skill: Mapped[float | None] = mapped_column(Float, nullable=True)  # accuracy estimated by the engine
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkerRun(Base):
    """One round of the background worker (retrain, refresh pre-labels and priorities)."""

    __tablename__ = "worker_runs"
    __table_args__ = (Index("ix_worker_runs_project", "project_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="running")  # running | done | failed
    answers: Mapped[int] = mapped_column(Integer, default=0)  # human answers when the round started
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


Index("ix_items_queue", Item.project_id, Item.q_open, Item.priority.desc(), Item.id)
Index("ix_assignments_user_state", Assignment.user_id, Assignment.state)

# Relationships kept minimal on purpose: repository functions use explicit queries.
Item.project = relationship(Project, viewonly=True)
