"""Single-threaded BLAS for loops of many small fits (threads only add contention there)."""

from __future__ import annotations

import functools


def single_threaded(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return fn(*args, **kwargs)

    return wrapper
