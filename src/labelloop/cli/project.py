"""Project commands: init, import, export, stats, taxonomy check."""

from __future__ import annotations

from pathlib import Path

import typer

from labelloop.cli._common import echo_json, handle_errors


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("import")(import_)
    app.command("export")(export)
    app.command("stats")(stats)
    taxonomy = typer.Typer(help="Check and inspect a tag taxonomy.", no_args_is_help=True)
    taxonomy.command("check")(taxonomy_check)
    app.add_typer(taxonomy, name="taxonomy")


@handle_errors
def init(
    directory: Path = typer.Argument(..., help="Project folder to create."),
    name: str = typer.Option(None, "--name", help="Project name (default: the folder's name)."),
    db: str = typer.Option(None, "--db", help="Database URL, e.g. postgresql://127.0.0.1:5432/test (default: DIR/labelloop.db; also LABELLOOP_DATABASE_URL)."),
    task: str = typer.Option("single", "--task", help="single (one class per item) or multi (tags)."),
    data: str = typer.Option("text", "--data", help="text or image."),
    labels: str = typer.Option(None, "--labels", help="Classes or tags, comma-separated (otherwise learned from imported labels or a taxonomy)."),
    taxonomy: str = typer.Option(None, "--taxonomy", help="Tag taxonomy JSON [{tag, aliases, parents}] (path or URL)."),
    unknown: str = typer.Option("keep", "--unknown", help="Unknown labels: keep, drop or error."),
):
    """Create a project: DIR/labelloop.toml plus its store (SQLite by default).

    Example: `labelloop init spam --task single --labels ham,spam`
    """
    from labelloop.project import Project
    from labelloop.schema import Taxonomy

    classes = [c.strip() for c in labels.split(",") if c.strip()] if labels else None
    tax = Taxonomy.load(taxonomy) if taxonomy else None
    proj = Project.init(directory, name=name, db=db, task=task, data=data, labels=classes, taxonomy=tax, unknown=unknown)
    typer.echo(f"created project '{proj.name}' in {directory} ({proj.task}-label {proj.data_type}, store {proj.safe_url})")
    proj.close()


@handle_errors
def import_(
    directory: Path = typer.Argument(..., help="Project folder."),
    source: str = typer.Argument(..., help="File, folder or URL to import."),
    format: str = typer.Option("auto", "--format", "-f", help="auto|csv|tsv|json|jsonl|parquet|folder|madewithml|answers|gold, or another tool's format: labelstudio|gt-manifest|toloka|mturk|coco|voc|hf"),
    taxonomy: str = typer.Option(None, "--taxonomy", help="Tag taxonomy JSON applied to imported tags (aliases -> tags, parents added)."),
    id_col: str = typer.Option(None, "--id-col", help="Column holding the item id (default: id, or the row number)."),
    text_col: str = typer.Option(None, "--text-col", help="Text column; several comma-separated columns are joined."),
    label_col: str = typer.Option(None, "--label-col", help="Column with existing labels (imported as votes of an import source)."),
    image_col: str = typer.Option(None, "--image-col", help="Column with image paths (image projects)."),
    unknown: str = typer.Option(None, "--unknown", help="Unknown labels: keep, drop or error (default: the project's policy)."),
    source_name: str = typer.Option(None, "--source-name", help="Name of the import source for the labels in the file."),
    batch_size: int = typer.Option(5000, "--batch-size", help="Rows per transaction."),
    as_json: bool = typer.Option(False, "--json", help="Print the import report as JSON."),
):
    """Import items (and their existing labels, as votes) into a project.

    The whole input is checked first; nothing is written if any row is bad. Re-importing the same
    file is idempotent, and an interrupted import can be run again.

    Examples:

        labelloop import proj data.csv --text-col title,description --label-col tag

        labelloop import proj ../shared/data/madewithml/projects.json --taxonomy ../shared/data/madewithml/tags.json

        labelloop import proj answers.csv --format answers

        labelloop import proj export.json --format labelstudio
    """
    from labelloop.io import import_file
    from labelloop.project import Project

    with Project.open(directory) as proj:
        rep = import_file(proj, source, fmt=format, id_col=id_col, text_col=text_col, label_col=label_col, image_col=image_col,
                          taxonomy=taxonomy, unknown=unknown, source_name=source_name, batch_size=batch_size)
    if as_json:
        echo_json(rep.to_dict())
    else:
        typer.echo(
            f"imported {rep.rows} rows from {rep.path} as {rep.format}: {rep.inserted} new, {rep.updated} updated, "
            f"{rep.unchanged} unchanged items; {rep.votes} votes ({rep.rows_per_s:,.0f} rows/s)"
        )


@handle_errors
def export(
    directory: Path = typer.Argument(..., help="Project folder."),
    out: Path = typer.Argument(..., help="Output file."),
    format: str = typer.Option(None, "--format", "-f", help="csv|jsonl|parquet (default: from the file name), or another tool's format: labelstudio|gt-manifest|toloka|mturk|coco|voc|hf."),
    votes: bool = typer.Option(False, "--votes", help="Include every vote of every source."),
):
    """Export final labels with confidence (and optionally every vote), streaming.

    Example: `labelloop export proj labels.parquet --votes`

    Example: `labelloop export proj tasks.json --format labelstudio --votes`
    """
    from labelloop.io import export_labels
    from labelloop.project import Project

    with Project.open(directory) as proj:
        n = export_labels(proj, out, fmt=format, votes=votes)
    typer.echo(f"wrote {n} items to {out}")


@handle_errors
def stats(
    directory: Path = typer.Argument(..., help="Project folder."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
):
    """Items, votes, label distribution, imbalance ratio and sources of a project.

    Example: `labelloop stats proj --json`
    """
    from labelloop.project import Project
    from labelloop.stats import project_stats

    with Project.open(directory) as proj:
        st = project_stats(proj)
    if as_json:
        echo_json(st)
        return
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(f"[bold]{st['project']}[/]: {st['task']}-label {st['data']} project")
    con.print(f"items {st['items']:,}   votes {st['votes']:,}   with a final label {st['labelled_items']:,}   imbalance ratio {st['imbalance_ratio']}")
    t = Table(title="labels (items carrying each)")
    t.add_column("label")
    t.add_column("items", justify="right")
    for lab, n in list(st["labels"].items())[:30]:
        t.add_row(str(lab), f"{n:,}")
    if len(st["labels"]) > 30:
        t.add_row(f"... {len(st['labels']) - 30} more", "")
    con.print(t)
    ts = Table(title="sources")
    for c in ("source", "kind", "version", "votes"):
        ts.add_column(c)
    for src in st["sources"][:30]:
        ts.add_row(src["name"], src["kind"], src["version"] or "", f"{src['votes']:,}")
    if len(st["sources"]) > 30:
        ts.add_row(f"... {len(st['sources']) - 30} more", "", "", "")
    con.print(ts)


@handle_errors
def taxonomy_check(
    path: str = typer.Argument(..., help="Taxonomy JSON file or URL: [{tag, aliases[], parents[]}]."),
    expand: str = typer.Option(None, "--expand", help="Comma-separated tags to canonicalise and expand with their ancestors."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
):
    """Load a taxonomy, reject cycles (naming them), and print a summary.

    Example: `labelloop taxonomy check tags.json --expand active-learning`
    """
    from labelloop.schema import Taxonomy

    tax = Taxonomy.load(path)
    out = tax.check()
    if expand:
        out["expanded"] = tax.expand([t for t in expand.split(",") if t.strip()])
    if as_json:
        echo_json(out)
    else:
        typer.echo(
            f"ok: {out['tags']} tags, {out['aliases']} aliases, {out['with_parents']} with parents, "
            f"{out['roots']} roots, max depth {out['max_depth']}"
        )
        if expand:
            typer.echo("expanded: " + ", ".join(out["expanded"]))
