"""Weak supervision commands: ``labelloop lf apply | summary | fit``."""

from __future__ import annotations

from pathlib import Path

import typer

from labelloop.cli._common import echo_json, handle_errors


def register(app: typer.Typer) -> None:
    lf = typer.Typer(help="Labeling functions: apply them, analyse them, fit the label model.", no_args_is_help=True)
    lf.command("apply")(apply)
    lf.command("summary")(summary)
    lf.command("fit")(fit)
    app.add_typer(lf, name="lf")


@handle_errors
def apply(
    directory: Path = typer.Argument(..., help="Project folder."),
    lfs: Path = typer.Option(..., "--lfs", help="Python file defining labeling functions (@labeling_function, factories, or an LFS list)."),
    strict: bool = typer.Option(False, "--strict", help="Stop at the first record an LF fails on (default: record the failure and go on)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Worker processes for LFs without a vectorised form (-1 = all cores)."),
    prune: bool = typer.Option(False, "--prune", help="Also delete the votes of stored LFs that are no longer in the file."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
):
    """Apply labeling functions to every item; each LF's votes are stored as source `lf:<name>`
    (re-running replaces them).

    Example: `labelloop lf apply spam --lfs my_lfs.py`
    """
    from labelloop.weak.project import apply_to_project, load_lfs

    rep = apply_to_project(directory, load_lfs(lfs), strict=strict, n_jobs=jobs, prune=prune)
    if as_json:
        echo_json(rep)
        return
    typer.echo(f"applied {len(rep['votes'])} labeling functions to {rep['n_items']} items of '{rep['project']}'")
    for name, n in rep["votes"].items():
        typer.echo(f"  lf:{name}: {n} votes")
    for name in rep["pruned"]:
        typer.echo(f"  {name}: votes deleted (no longer in {lfs.name})")
    if rep["failures"]:
        typer.secho(f"{len(rep['failures'])} failures (counted as abstains):", fg=typer.colors.YELLOW, err=True)
        for f in rep["failures"][:20]:
            typer.echo(f"  {f['lf']} on record {f['record_id']}: {f['error']}", err=True)


@handle_errors
def summary(
    directory: Path = typer.Argument(..., help="Project folder."),
    gold: Path = typer.Option(None, "--gold", help="File with id and label columns for empirical accuracy (default: the project's gold sources)."),
    html: Path = typer.Option(None, "--html", help="Also write the table as an HTML fragment to this file."),
    as_json: bool = typer.Option(False, "--json", help="Print the table as JSON."),
):
    """Coverage, overlaps, conflicts and polarity of each stored LF, and its empirical accuracy
    with correct/incorrect counts when gold labels exist.

    Example: `labelloop lf summary spam --gold dev.csv`
    """
    from labelloop.weak.analysis import summary_html, summary_table
    from labelloop.weak.project import summary_project

    df = summary_project(directory, gold=gold)
    if html is not None:
        html.write_text(summary_html(df), encoding="utf-8")
    if as_json:
        echo_json(df.reset_index().to_dict("records"))
        return
    from rich.console import Console

    Console(width=max(120, Console().width)).print(summary_table(df))


@handle_errors
def fit(
    directory: Path = typer.Argument(..., help="Project folder."),
    no_humans: bool = typer.Option(False, "--no-humans", help="Use LF votes only (default: human votes join the fit)."),
    class_balance: str = typer.Option(None, "--class-balance", help="Fixed class prior, comma-separated in class order (default: learned)."),
    threshold: float = typer.Option(0.5, "--threshold", help="Multi-label: tag probability needed to assign a tag."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
):
    """Fit the label model on the stored LF votes (plus human votes; gold answers are known
    truths) and write each item's label with its confidence into the store.

    Example: `labelloop lf fit spam`
    """
    from labelloop.weak.project import fit_project

    cb = None
    if class_balance:
        try:
            cb = [float(x) for x in class_balance.split(",")]
        except ValueError:
            from labelloop.exceptions import InputError

            raise InputError(f"--class-balance must be numbers separated by commas, got {class_balance!r}") from None
    rep = fit_project(directory, use_humans=not no_humans, class_balance=cb, threshold=threshold)
    if as_json:
        echo_json(rep)
        return
    typer.echo(
        f"label model: {rep['n_items']} labels written for '{rep['project']}' from {rep['n_lfs']} LFs"
        f" and {rep['n_humans']} annotators; LF coverage {100 * rep['coverage']:.1f}%, mean confidence {rep['mean_confidence']:.3f}"
    )
    if "lf_accuracy" in rep:
        for name, acc in rep["lf_accuracy"].items():
            typer.echo(f"  {name}: estimated accuracy {acc:.3f}")
