"""``labelloop simulate``, ``labelloop curve``, ``labelloop cost``: the loop from the command line."""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer

from labelloop.cli._common import echo_json, handle_errors


@contextlib.contextmanager
def _round_hooks(project, mlflow_store, notify, target, params):
    """Per-round experiment tracking (MLflow) and milestone notifications for the simulator."""
    hooks = []
    with contextlib.ExitStack() as stack:
        if mlflow_store:
            from labelloop.tracking import MlflowTracker

            tracker = MlflowTracker(mlflow_store, experiment=f"labelloop-{Path(project).name}" if project else "labelloop-simulate")
            stack.enter_context(tracker.run(name="simulate", params=params))
            hooks.append(lambda rec, curve: tracker.log_round(
                int(rec["round"]), metrics={k: v for k, v in rec.items() if k != "round"}))
        if notify:
            from labelloop import notify as nt

            settings = {}
            if project is not None:
                from labelloop.project import Project

                with Project.open(project) as proj:
                    settings = proj.settings
            notifier = nt.from_settings(settings, raise_errors=False)
            if not notifier:
                from labelloop.exceptions import ConfigError

                raise ConfigError("--notify: no webhook or Telegram bot configured (labelloop notify set, or LABELLOOP_WEBHOOK_URL)")
            hooks.append(lambda rec, curve: notifier.send(nt.milestone_from_curve(curve, round=int(rec["round"]), target=target)))

        def on_round(rec, curve):
            for h in hooks:
                h(rec, curve)

        yield on_round if hooks else None


def _write_json(obj, path: Path | None) -> None:
    import json

    from labelloop.cli._common import _json_default

    if path is None:
        echo_json(obj)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, default=_json_default) + "\n", encoding="utf-8")
    typer.echo(f"wrote {path}", err=True)


def _load_npy(path: Path, what: str):
    import numpy as np

    from labelloop.exceptions import InputError

    if not path.exists():
        raise InputError(f"{what} file not found; pass an existing .npy file", path=path)
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"cannot read {what} as a NumPy .npy array ({exc})", path=path) from exc


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    @handle_errors
    def simulate_cmd(
        project: Path | None = typer.Argument(None, help="A project folder (its items are embedded, its labels are the truth)."),
        features: Path | None = typer.Option(None, "--features", help="Features, a .npy array (items x features)."),
        labels: Path | None = typer.Option(None, "--labels", help="True labels, a .npy array (one per item)."),
        answers: Path | None = typer.Option(None, "--answers", help="Crowd answers CSV (question,worker,answer) to replay."),
        truth: Path | None = typer.Option(None, "--truth", help="Ground truth CSV (question,truth) for --answers."),
        strategy: str | None = typer.Option(None, "--strategy", help="Query strategy (default: influence, hybrid with --semi); see labelloop.select.STRATEGIES."),
        init: int = typer.Option(10, "--init", help="Size of the first (diverse) batch."),
        batch: int = typer.Option(10, "--batch", help="Items labelled per round."),
        budget: int = typer.Option(400, "--budget", help="Most human labels to use."),
        test_size: float = typer.Option(0.3, "--test-size", help="Share of items held out for testing (stratified)."),
        seed: int = typer.Option(0, "--seed", help="Random seed (split, cold start, ties)."),
        model: str = typer.Option("logreg", "--model", help="logreg (LogisticRegression(C=10, max_iter=2000)), svm, rf, knn, nb."),
        semi: bool = typer.Option(False, "--semi/--no-semi", help="Also train on pseudo-labels (never counted as human labels)."),
        overlap: int = typer.Option(0, "--overlap", help="Simulated annotators: answers per item (0 = use the truth directly)."),
        accuracy: str = typer.Option("0.9,0.85,0.8", "--annotator-accuracy", help="Simulated annotators' accuracies, comma separated."),
        spammers: int = typer.Option(0, "--spammers", help="Extra simulated annotators who answer at random."),
        honeypots: float = typer.Option(0.0, "--honeypots", help="Share of simulated answers spent on gold items (weights annotators)."),
        aggregator: str = typer.Option("ds", "--aggregator", help="Replay: aggregation method for --answers."),
        min_answers: int = typer.Option(3, "--min-answers", help="Replay: answers revealed per item before dynamic overlap."),
        confidence: float = typer.Option(0.9999, "--confidence", help="Replay: ask for more answers while the aggregate confidence is below this (1 = until the answers run out)."),
        max_per_item: int | None = typer.Option(None, "--max-per-item", help="Replay: most answers revealed for one item."),
        embed_model: str = typer.Option("auto", "--embed-model", help="Project: embedder for the items (auto, minilm, tfidf, histogram...)."),
        html: Path | None = typer.Option(None, "--html", help="Also write an HTML report with plots here."),
        json_out: Path | None = typer.Option(None, "--json", help="Write the result as JSON here (default: stdout)."),
        mlflow: str | None = typer.Option(None, "--mlflow", help="Log every round's parameters and metrics to this local MLflow store (folder or .db)."),
        notify: bool = typer.Option(False, "--notify", help="Send a milestone message per round to the configured webhook / Telegram bot (project settings or LABELLOOP_* variables)."),
        target: float | None = typer.Option(None, "--target", help="With --notify: the accuracy to report progress towards."),
    ):
        """Run the labelling loop on data whose truth is known and report labels vs accuracy.

        On features: `labelloop simulate --features X.npy --labels y.npy --strategy hybrid --json out.json`
        (OUT.json holds `curve: [[human_labels, test_accuracy], ...]` and `full_accuracy`).

        Replaying real crowd answers with dynamic overlap:
        `labelloop simulate --answers answer.csv --truth truth.csv --json out.json`
        (`curve: [[answers_used, accuracy], ...]`).

        On a project: `labelloop simulate my-project --json out.json`.
        """
        from labelloop.exceptions import InputError

        if answers is not None or truth is not None:
            if answers is None or truth is None:
                raise InputError("replay needs both --answers ANSWERS.csv and --truth TRUTH.csv")
            from labelloop.loop.replay import read_csv_table, replay

            res = replay(read_csv_table(answers, "answers"), read_csv_table(truth, "truth"), aggregator=aggregator,
                         min_answers=min_answers, confidence=confidence, max_per_item=max_per_item, random_state=seed)
            _write_json(res.to_dict(), json_out)
            return
        if project is not None:
            from labelloop.loop.project import project_arrays

            X, y = project_arrays(project, embed_model=embed_model)
        else:
            if features is None or labels is None:
                raise InputError("pass a project folder, or --features X.npy and --labels y.npy, or --answers and --truth")
            X = _load_npy(features, "features")
            y = _load_npy(labels, "labels")
        from labelloop.loop.simulate import SimulatedAnnotators, simulate

        ann = None
        if overlap > 0:
            try:
                accs = [float(a) for a in accuracy.split(",") if a.strip()]
            except ValueError:
                raise InputError(f"--annotator-accuracy must be numbers separated by commas, got {accuracy!r}") from None
            ann = SimulatedAnnotators(accs, spammers=spammers, overlap=overlap, honeypot_rate=honeypots)
        from labelloop.select import default_strategy

        # tracked runs name the strategy that ran, not "default" (the default can change)
        params = {"strategy": strategy or default_strategy(semi), "init": init, "batch": batch, "budget": budget, "model": model,
                  "semi": semi, "test_size": test_size, "seed": seed}
        with _round_hooks(project, mlflow, notify, target, params) as on_round:
            res = simulate(X, y, strategy=strategy, init=init, batch=batch, budget=budget, test_size=test_size,
                           random_state=seed, model=model, semi=semi, annotators=ann, on_round=on_round)
        out = res.to_dict()
        if html is not None:
            from labelloop.loop.report import write_report

            write_report([out], html)
            out["html"] = str(html)
        _write_json(out, json_out)

    @app.command("loop-round")
    @handle_errors
    def loop_round_cmd(
        project: Path = typer.Argument(..., help="A project folder."),
        batch: int = typer.Option(50, "--batch", help="Items to queue for people."),
        strategy: str | None = typer.Option(None, "--strategy", help="Query strategy (default: influence, hybrid with --semi)."),
        model: str = typer.Option("logreg", "--model", help="logreg, svm, rf, knn, nb."),
        semi: bool = typer.Option(False, "--semi/--no-semi", help="Also train on pseudo-labels."),
        target_precision: float = typer.Option(0.99, "--target-precision", help="Router: precision auto-accepted answers must reach."),
        embed_model: str = typer.Option("auto", "--embed-model", help="Embedder for the items (auto, minilm, tfidf, histogram...)."),
        json_out: Path | None = typer.Option(None, "--json", help="Write the summary as JSON here (default: stdout)."),
    ):
        """One round of the loop on a project: train on human labels, write predictions, queue
        the next batch for people, and report the share the router could auto-accept.

        Example: `labelloop loop-round my-project --batch 50 --target-precision 0.99`
        """
        from labelloop.loop.project import run_loop_round

        _write_json(run_loop_round(project, strategy=strategy, batch=batch, model=model, semi=semi,
                                   embed_model=embed_model, target_precision=target_precision), json_out)

    @app.command("curve")
    @handle_errors
    def curve_cmd(
        project: Path = typer.Argument(..., help="A project folder with human labels and embeddings."),
        target: float | None = typer.Option(None, "--target", help="Also extrapolate the labels needed for this accuracy."),
        embed_model: str = typer.Option("auto", "--embed-model", help="Embedder for the items (auto, minilm, tfidf, histogram...)."),
        json_out: Path | None = typer.Option(None, "--json", help="Write the result as JSON here (default: stdout)."),
    ):
        """Fit a learning curve to the project's human labels and extrapolate it.

        Example: `labelloop curve my-project --target 0.95`
        """
        from labelloop.loop.project import project_curve

        _write_json(project_curve(project, target=target, embed_model=embed_model), json_out)

    @app.command("cost")
    @handle_errors
    def cost_cmd(
        project: Path = typer.Argument(..., help="A project folder with human labels and embeddings."),
        target: float = typer.Option(0.95, "--target", help="Target accuracy."),
        hourly: float = typer.Option(10.0, "--hourly", help="Annotator price per hour."),
        seconds: float = typer.Option(20.0, "--seconds-per-label", help="Seconds an annotator spends per label."),
        overlap: float = typer.Option(1.0, "--overlap", help="Answers collected per item."),
        engineer_hourly: float | None = typer.Option(None, "--engineer-hourly", help="ML engineer price per hour (default 12.5x the annotator's)."),
        engineer_hours: float = typer.Option(40.0, "--engineer-hours", help="Hours of model work on the 'improve the model' route."),
        improvement: float = typer.Option(0.2, "--improvement", help="Share of the error that model work is assumed to remove."),
        embed_model: str = typer.Option("auto", "--embed-model", help="Embedder for the items (auto, minilm, tfidf, histogram...)."),
        json_out: Path | None = typer.Option(None, "--json", help="Write the result as JSON here (default: stdout)."),
    ):
        """How many more labels (and how much money) reach the target; or is model work cheaper?

        Example: `labelloop cost my-project --target 0.95 --hourly 12 --seconds-per-label 15`
        """
        from labelloop.loop.cost import CostModel
        from labelloop.loop.project import project_cost

        cm = CostModel(annotator_hourly=hourly, seconds_per_label=seconds, overlap=overlap, engineer_hourly=engineer_hourly)
        res = project_cost(project, target=target, cost=cm, engineer_hours=engineer_hours, improvement=improvement,
                           embed_model=embed_model)
        if json_out is None:
            typer.echo(res["advice"], err=True)
        _write_json(res, json_out)
