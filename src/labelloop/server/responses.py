"""Cheap JSON responses for the annotator's hot endpoints (``/next``, ``/answers``).

Returning a ``Response`` skips FastAPI's response-model validation and serialisation, which
cost more than the payload (a few hundred bytes). The routes keep their ``response_model`` for
the OpenAPI schema, and build the same shape as those models (tests compare them). orjson is
used when installed (``labelloop[server]`` pulls it in), the standard library otherwise.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

try:
    import orjson

    def dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # pragma: no cover - depends on the environment
    _encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def dumps(obj: Any) -> bytes:
        return _encode(obj).encode("utf-8")


class JSONBytes(Response):
    """``application/json`` from a plain dict, lists and scalars."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)
