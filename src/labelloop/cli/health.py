"""Dataset-health commands: errors (suspected label errors, into the review queue) and report."""

from __future__ import annotations

from pathlib import Path

import typer

from labelloop.cli._common import echo_json, handle_errors


def register(app: typer.Typer) -> None:
    app.command("errors")(errors)
    app.command("report")(report)


@handle_errors
def errors(
    directory: Path = typer.Argument(..., help="Project folder."),
    top: int = typer.Option(20, "--top", "-k", help="How many of the most suspect items to show."),
    as_json: bool = typer.Option(False, "--json", help="Print the suspects as JSON."),
    queue: bool = typer.Option(True, "--queue/--no-queue", help="Put the flagged items first in the review queue (reason error-review)."),
    n_neighbors: int = typer.Option(10, "--neighbors", help="Nearest neighbours per item for the neighbour signal."),
    seed: int = typer.Option(0, "--seed", help="Seed of the cross-validation folds."),
):
    """Find labels that are probably wrong, with a suggested label for each.

    Combines a cross-validated model, nearest neighbours in embedding space (the project's
    embeddings, else TF-IDF of the text) and, where items have several answers, the annotators'
    consensus. Flagged items go to the front of the review queue unless `--no-queue`.

    Examples:

        labelloop errors proj --top 20

        labelloop errors proj --json --no-queue > suspects.json
    """
    from labelloop.project import Project
    from labelloop.quality.project import project_label_errors

    if top < 0:
        raise typer.BadParameter("--top must be 0 or more")
    with Project.open(directory) as proj:
        res = project_label_errors(proj, queue=queue, random_state=seed, n_neighbors=n_neighbors)
    shown = res.head(top)
    n_flag = int(res.is_error.sum())
    if as_json:
        cols = [c for c in ("item_id", "external_id", "given_label", "suggested_label", "score", "is_error", "rank",
                            "knn_disagreement", "vote_disagreement", "aggregate_label", "issues", "text", "image")
                if c in shown.columns]
        recs = shown[cols].to_dict("records")
        echo_json({"n_items": int(len(res)), "n_flagged": n_flag, "n_errors_estimate": res.attrs.get("n_errors_estimate"),
                   "queued": res.attrs.get("queued", 0), "features": res.attrs.get("feature_source"), "suspects": recs})
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{n_flag} of {len(res)} labelled items flagged as probable label errors")
    multi = "issues" in shown.columns
    for c in ("rank", "item", "label" if not multi else "tags", "suggested" if not multi else "change", "score", "flagged", "content"):
        t.add_column(c, overflow="fold", max_width=60 if c == "content" else (40 if c == "tags" else None))
    for r in shown.to_dict("records"):
        content = str(r.get("text") or r.get("image") or "")
        given = _fmt(r["given_label"])
        change = _fmt(r["issues"]) if multi else _fmt(r["suggested_label"])
        t.add_row(str(r["rank"]), str(r["external_id"]), given[:80], change, f"{r['score']:.3f}",
                  "yes" if r["is_error"] else "", content[:120])
    Console().print(t)
    if queue:
        typer.echo(f"{res.attrs.get('queued', 0)} flagged items put first in the review queue (reason error-review)")


def _fmt(v) -> str:
    return ", ".join(map(str, v)) if isinstance(v, list) else str(v)


@handle_errors
def report(
    directory: Path = typer.Argument(..., help="Project folder."),
    out: Path = typer.Option(None, "--out", "-o", help="HTML file to write (default: DIR/report.html)."),
    top: int = typer.Option(20, "--top", help="Suspected label errors to list."),
    seed: int = typer.Option(0, "--seed", help="Seed of the cross-validation folds."),
):
    """Write the dataset-health report: one self-contained HTML page (no network needed).

    Class distribution, model vs labels, suspected label errors with their items, outliers,
    labeling functions, learning curve and cost, annotators and agreement, duplicates, train/test
    leakage; a section without data says why.

    Example: `labelloop report proj --out proj-health.html`
    """
    from labelloop.project import Project
    from labelloop.report import build_report

    with Project.open(directory) as proj:
        path = build_report(proj, out, top=top, random_state=seed)
    typer.echo(f"wrote {path}")
