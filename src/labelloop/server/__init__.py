"""The labelling server: a FastAPI app built by :func:`create_app` (nothing at import time).

``labelloop serve DIR`` runs it with uvicorn; the web UI under ``/ui/`` uses only the REST API
under ``/api/v1`` (OpenAPI schema at ``/openapi.json``).
"""

from labelloop.server.settings import ServerSettings


def create_app(settings: ServerSettings):
    """Build the FastAPI application for ``settings`` (imports FastAPI lazily)."""
    from labelloop.server.app import build_app

    return build_app(settings)


__all__ = ["ServerSettings", "create_app"]
