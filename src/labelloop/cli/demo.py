"""``labelloop demo``: the main job end to end on bundled data."""

from __future__ import annotations

from pathlib import Path

import typer

from labelloop.cli._common import handle_errors


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


@handle_errors
def demo(
    directory: Path = typer.Argument(Path("demo-project"), help="Folder for the demo projects."),
    madewithml: str = typer.Option(None, "--madewithml", help="Path or URL of Made With ML projects.json (tags.json beside it)."),
    headless: bool = typer.Option(False, "--headless", help="Do not start the web UI at the end."),
):
    """Build demo projects from real data and run the main job on them.

    Examples:

        labelloop demo demo-project

        labelloop demo demo-project --madewithml ../shared/data/madewithml/projects.json
    """
    from labelloop.demo import run_demo

    run_demo(directory, madewithml=madewithml, say=typer.echo)
    typer.echo("demo finished")
