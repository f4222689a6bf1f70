"""``labelloop aggregate``: turn several answers per item into one label with confidence."""

from __future__ import annotations

from pathlib import Path

import typer

from labelloop.cli._common import handle_errors

METHODS = "mv|wawa|zbs|onecoin|ds|glad|mace|auto"


def register(app: typer.Typer) -> None:
    @app.command("aggregate")
    @handle_errors
    def aggregate(
        source: Path = typer.Argument(..., help="Answers table (CSV/TSV/JSONL/Parquet: task,worker,label or question,worker,answer) or a project folder."),
        method: str = typer.Option("ds", "--method", "-m", help=f"Aggregation method: {METHODS}."),
        gold: Path | None = typer.Option(None, "--gold", help="Known truths: task,label (or question,truth); fixes those items and informs every source's skill."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Write task,label,confidence here (CSV); default: standard output."),
        skills_out: Path | None = typer.Option(None, "--skills-out", help="Write per-source skills here (source,skill,accuracy,n_answers)."),
        labels: str | None = typer.Option(None, "--labels", help="Comma-separated allowed labels; any other label is an error."),
        quality_out: Path | None = typer.Option(None, "--quality-out", help="Write per-source quality control here: agreement vs chance, spammer / against-consensus flags, suggested weight, honeypot accuracy with Wilson interval."),
    ):
        """Aggregate crowd answers (or a project's votes) into one label per item.

        Example:

            labelloop aggregate answers.csv --method ds --gold gold.csv --out labels.csv --skills-out skills.csv

        Quality control per worker (spammers, honeypot accuracy with a confidence interval):

            labelloop aggregate answers.csv --gold gold.csv --out labels.csv --quality-out quality.csv

        On a project folder the labels are written into the project's store:

            labelloop aggregate myproject --method auto
        """
        import sys

        from labelloop.aggregate.files import aggregate_file

        classes = [c.strip() for c in labels.split(",") if c.strip()] if labels else None
        if source.is_dir() and (source / "labelloop.toml").exists():
            from labelloop.aggregate.store import aggregate_project

            summary = aggregate_project(source, method=method, gold=gold)
            typer.echo(
                f"aggregated {summary['n_votes']} votes from {summary['n_sources']} sources into "
                f"{summary['n_items']} labels with {summary['method']} (mean confidence {summary['mean_confidence']:.3f})",
                err=True,
            )
            if skills_out is not None:
                summary["skills"].to_csv(skills_out, index=False)
            return
        res = aggregate_file(source, method=method, gold=gold, classes=classes)
        if skills_out is not None:
            res.skills.to_csv(skills_out, index=False)
        if quality_out is not None:
            from labelloop.aggregate import source_quality
            from labelloop.aggregate.files import read_gold

            q = source_quality(res.votes, res.estimator, gold=None if gold is None else read_gold(gold))
            q.reset_index().to_csv(quality_out, index=False)
            flagged = q.index[q["action"] == "block"].tolist()
            if flagged:
                shown = ", ".join(map(str, flagged[:10])) + (" ..." if len(flagged) > 10 else "")
                typer.echo(f"{len(flagged)} sources flagged (spammer or against the consensus): {shown}", err=True)
        if out is None:
            res.labels.to_csv(sys.stdout, index=False)
        else:
            res.labels.to_csv(out, index=False)
        est = res.estimator
        picked = f"auto picked {est.chosen_}" if hasattr(est, "chosen_") else f"method {est.name}"
        typer.echo(
            f"{picked}: {res.votes.n_votes} answers, {res.votes.n_sources} workers, "
            f"{res.votes.n_items} tasks; mean confidence {float(est.confidence_.mean()):.3f}",
            err=True,
        )
