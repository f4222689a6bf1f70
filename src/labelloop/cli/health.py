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
    top: int = typer.Option(None, "--top", "-k", help="How many of the most suspect items to show (default 20); with --requeue, re-queue at most this many."),
    as_json: bool = typer.Option(False, "--json", help="Print the suspects as JSON."),
    queue: bool = typer.Option(True, "--queue/--no-queue", help="Put the flagged items first in the review queue (reason error-review)."),
    n_neighbors: int = typer.Option(10, "--neighbors", help="Nearest neighbours per item for the neighbour signal."),
    seed: int = typer.Option(0, "--seed", help="Seed of the cross-validation folds."),
    requeue: bool = typer.Option(False, "--requeue", help="Send the suspects back to the annotators for more answers (flagged ones, or those with --min-score)."),
    min_score: float = typer.Option(None, "--min-score", help="With --requeue: re-queue every item whose score is at least this (0-1), flagged or not."),
    extra_overlap: int = typer.Option(2, "--extra-overlap", help="With --requeue: how many more answers each re-queued item needs."),
):
    """Find labels that are probably wrong, with a suggested label for each.

    Combines a cross-validated model, nearest neighbours in embedding space (the project's
    embeddings, else TF-IDF of the text) and, where items have several answers, the annotators'
    consensus. Flagged items go to the front of the review queue unless `--no-queue`.

    Examples:

        labelloop errors proj --top 20

        labelloop errors proj --json --no-queue > suspects.json

        labelloop errors proj --requeue --top 50 --extra-overlap 2

    With `--requeue` the suspects go back into the labelling queue: `/next` serves them first, to
    annotators who have not answered them yet, until each has N more answers (`--extra-overlap`);
    the item's label is then re-aggregated from all its answers.
    """
    from labelloop.project import Project
    from labelloop.quality.project import project_label_errors, requeue_suspects, select_suspects

    if top is not None and top < (1 if requeue else 0):
        raise typer.BadParameter(f"--top must be {'at least 1' if requeue else '0 or more'}")
    if not requeue and (min_score is not None or extra_overlap != 2):
        raise typer.BadParameter("--min-score and --extra-overlap only apply with --requeue")
    if min_score is not None and not 0.0 <= min_score <= 1.0:
        raise typer.BadParameter("--min-score must be between 0 and 1")
    if not 1 <= extra_overlap <= 50:
        raise typer.BadParameter("--extra-overlap must be between 1 and 50")
    requeued = None
    with Project.open(directory) as proj:
        res = project_label_errors(proj, queue=queue, random_state=seed, n_neighbors=n_neighbors)
        if requeue:
            chosen = select_suspects(res, top=top, min_score=min_score)
            requeued = requeue_suspects(proj, chosen, extra_answers=extra_overlap)
    shown = res.head(20 if top is None else top)
    n_flag = int(res.is_error.sum())
    if as_json:
        cols = [c for c in ("item_id", "external_id", "given_label", "suggested_label", "score", "is_error", "rank",
                            "knn_disagreement", "vote_disagreement", "aggregate_label", "issues", "text", "image")
                if c in shown.columns]
        recs = shown[cols].to_dict("records")
        echo_json({"n_items": int(len(res)), "n_flagged": n_flag, "n_errors_estimate": res.attrs.get("n_errors_estimate"),
                   "queued": res.attrs.get("queued", 0), "features": res.attrs.get("feature_source"), "suspects": recs,
                   **({"requeued": requeued, "extra_answers": extra_overlap} if requeued is not None else {})})
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
    if requeued is not None:
        typer.echo(f"{requeued['requeued']} items sent back to the annotators for {extra_overlap} more answers each "
                   f"(reason error-relabel; {requeued['open']} open now" +
                   (f", {requeued['gold_skipped']} gold items left alone)" if requeued["gold_skipped"] else ")"))


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
