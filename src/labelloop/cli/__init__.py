"""The ``labelloop`` command line. It calls the library and holds no logic.

Each module in this package that defines ``register(app)`` adds its commands (a plug-in
registry, so areas of the product own their commands without editing one shared file).
Modules whose names start with ``_`` are helpers, not command modules.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

from labelloop.cli._common import version_callback

app = typer.Typer(
    name="labelloop",
    help="labelloop: get high-quality training labels for the least human effort and money.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True, help="Show the version."),
):
    from labelloop.progress import set_quiet

    if quiet:
        set_quiet(True)


def _register_all() -> None:
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is None:
            raise RuntimeError(f"CLI module {module.__name__} has no register(app)")
        register(app)


_register_all()


def main() -> None:
    app()
