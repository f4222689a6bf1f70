"""Helpers shared by CLI modules: error reporting, output, project folders."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USER_ERROR = 2


def version_callback(value: bool):
    if value:
        from labelloop import __version__

        typer.echo(f"labelloop {__version__}")
        raise typer.Exit()


def fail(message: str, code: int = EXIT_USER_ERROR):
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def handle_errors(fn: F) -> F:
    """Turn every LabelloopError into a one-line message and a non-zero exit (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from labelloop.exceptions import LabelloopError

        try:
            return fn(*args, **kwargs)
        except LabelloopError as exc:
            fail(str(exc))
        except FileNotFoundError as exc:
            fail(f"file not found: {exc.filename or exc}")
        except KeyboardInterrupt:
            typer.secho("interrupted; committed batches are kept, run the command again to finish", err=True)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def echo_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o: Any):
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
