"""Builds the FastAPI application: routes, error mapping, size limits, security headers, UI."""

from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from labelloop.exceptions import (
    AccessError,
    ConfigError,
    ConflictError,
    InputError,
    LabelloopError,
    NotFoundError,
    SchemaError,
    TaxonomyError,
)
from labelloop.server.settings import ServerSettings

log = logging.getLogger("labelloop.server")
STATIC = Path(__file__).with_name("static")

STATUS = [
    (NotFoundError, 404),
    (ConflictError, 409),
    (AccessError, 403),
    (InputError, 422),
    (SchemaError, 422),
    (TaxonomyError, 422),
    (ConfigError, 400),
    (LabelloopError, 400),
]


class Guard:
    """Pure ASGI middleware: 413 for bodies larger than ``limit`` bytes (declared or streamed),
    and security headers on every response (no-store on API responses)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit
        self.headers = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = self.headers + ([(b"cache-control", b"no-store")] if scope["path"].startswith("/api/") else [])

        async def send_with_headers(msg):
            if msg["type"] == "http.response.start":
                have = {k.lower() for k, _ in msg.get("headers", [])}
                msg = {**msg, "headers": list(msg.get("headers", [])) + [(k, v) for k, v in extra if k not in have]}
            await send(msg)

        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    n = int(v)
                except ValueError:
                    n = self.limit + 1
                if n > self.limit:
                    return await _too_large(send, self.limit)
        seen = 0

        async def limited():
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return msg

        try:
            await self.app(scope, limited, send_with_headers)
        except _TooLarge:
            await _too_large(send, self.limit)


class _TooLarge(Exception):
    pass


async def _too_large(send, limit: int) -> None:
    body = json.dumps({"detail": f"request body too large (limit {limit} bytes)"}).encode()
    await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
}


def build_app(settings: ServerSettings) -> FastAPI:
    from labelloop.server.routes import admin, annotate, auth, media
    from labelloop.server.state import AppState

    state = AppState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.worker:
            from labelloop.server.worker import Worker

            for h in state.projects.values():
                w = Worker(h, settings.round_fn, poll_seconds=settings.worker_poll_seconds)
                h.worker = w
                state.workers[h.name] = w
                w.start()
        try:
            yield
        finally:
            state.close()

    app = FastAPI(
        title="labelloop",
        summary="Labelling server: queue with overlap and honeypots, live quality, exports.",
        version=_version(),
        lifespan=lifespan,
        openapi_url="/openapi.json",
    )
    app.state.labelloop = state

    @app.exception_handler(LabelloopError)
    async def _labelloop_error(request: Request, exc: LabelloopError):
        code = next(c for cls, c in STATUS if isinstance(exc, cls))
        return JSONResponse({"detail": str(exc)}, status_code=code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors()[:10]:
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body",))
            parts.append(f"{where or 'body'}: {e.get('msg')}")
        return JSONResponse({"detail": "invalid request: " + "; ".join(parts), "errors": _clean(exc.errors()[:10])}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):  # pragma: no cover - a bug if reached
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; see the server log"}, status_code=500)

    app.include_router(auth.router)
    app.include_router(annotate.router)
    app.include_router(media.router)
    app.include_router(admin.router)
    app.include_router(admin.users_router)

    @app.get("/", include_in_schema=False)
    def _root():
        return RedirectResponse("/ui/")

    @app.get("/api/v1/health", tags=["meta"], summary="Liveness")
    def _health() -> dict:
        return {"ok": True, "projects": sorted(state.projects)}

    app.mount("/ui", StaticFiles(directory=STATIC, html=True), name="ui")
    app.add_middleware(Guard, limit=settings.max_body_bytes)
    return app


def _clean(errors: list) -> list:
    out = []
    for e in errors:
        out.append({k: (v if isinstance(v, (str, int, float, list, type(None))) else str(v)) for k, v in e.items() if k != "ctx"})
    return out


def _version() -> str:
    from labelloop import __version__

    return __version__
