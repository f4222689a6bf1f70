"""Where input comes from: local paths or http(s) URLs (downloaded once to a temporary file)."""

from __future__ import annotations

import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from labelloop.exceptions import InputError


def is_url(s: str | Path) -> bool:
    return isinstance(s, str) and s.split("://", 1)[0].lower() in ("http", "https", "file")


def local_path(path_or_url: str | Path, *, suffix: str = "") -> Path:
    """A local file for ``path_or_url``; URLs are downloaded to a temporary file first."""
    if not is_url(path_or_url):
        p = Path(path_or_url)
        if not p.exists():
            raise InputError("no such file or folder", path=p)
        return p
    url = str(path_or_url)
    name = url.rstrip("/").rsplit("/", 1)[-1] or "download"
    tmp = Path(tempfile.mkdtemp(prefix="labelloop-dl-")) / (name if "." in name else name + suffix)
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, tmp.open("wb") as out:
            shutil.copyfileobj(resp, out)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise InputError(f"cannot download: {exc}", path=url) from exc
    return tmp


def read_bytes(path_or_url: str | Path) -> bytes:
    p = local_path(path_or_url)
    if p.is_dir():
        raise InputError("expected a file, got a folder", path=p)
    return p.read_bytes()
