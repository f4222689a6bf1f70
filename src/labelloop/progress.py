"""Progress bars that can be turned off.

Every loop over data that can take more than a second goes through :func:`progress`. Bars are
shown on a TTY unless quiet was requested (``--quiet`` on the CLI, ``LABELLOOP_QUIET=1``, or
:func:`set_quiet`).
"""

from __future__ import annotations

import contextvars
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_quiet: contextvars.ContextVar[bool | None] = contextvars.ContextVar("labelloop_quiet", default=None)


def set_quiet(value: bool) -> None:
    _quiet.set(bool(value))


def is_quiet() -> bool:
    explicit = _quiet.get()
    if explicit is not None:
        return explicit
    if os.environ.get("LABELLOOP_QUIET", "") not in ("", "0"):
        return True
    return not sys.stderr.isatty()


def progress(
    iterable: Iterable[T] | None = None,
    *,
    total: float | None = None,
    desc: str = "",
    unit: str = "it",
    disable: bool | None = None,
    **kwargs,
):
    """A tqdm bar (rows/s, items/s, ...) writing to stderr; disabled when quiet."""
    from tqdm.auto import tqdm

    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=True,
        dynamic_ncols=True,
        disable=is_quiet() if disable is None else disable,
        file=sys.stderr,
        **kwargs,
    )


def iter_progress(iterable: Iterable[T], **kwargs) -> Iterator[T]:
    yield from progress(iterable, **kwargs)
