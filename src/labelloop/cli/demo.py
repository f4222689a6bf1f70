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
    host: str = typer.Option("127.0.0.1", "--host", help="Address for the web UI."),
    port: int = typer.Option(8000, "--port", help="Port for the web UI."),
):
    """Build demo projects from real data and run the main job on them.

    Examples:

        labelloop demo demo-project

        labelloop demo demo-project --madewithml ../shared/data/madewithml/projects.json
    """
    from labelloop.demo import run_demo

    result = run_demo(directory, madewithml=madewithml, say=typer.echo)
    typer.echo("demo finished")
    if headless:
        return
    from labelloop.server.run import serve

    projects = [result[k]["project"] for k in ("digits", "madewithml") if k in result]
    typer.echo("[last] serving the labelling UI on the demo projects (Ctrl-C to stop)")
    serve(projects, host=host, port=port, with_demo_logins=True, say=typer.echo)
