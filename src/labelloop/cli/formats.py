"""Commands for working with other tools: notifications, Ground Truth manifests and handlers,
Label Studio configs. Import/export of the formats goes through ``labelloop import/export
--format``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from labelloop.cli._common import echo_json, handle_errors


def register(app: typer.Typer) -> None:
    notify = typer.Typer(help="Loop milestones and progress to a webhook (Slack-compatible) or a Telegram bot.", no_args_is_help=True)
    notify.command("test")(notify_test)
    notify.command("set")(notify_set)
    notify.command("send")(notify_send)
    notify.command("rounds")(notify_rounds)
    app.add_typer(notify, name="notify")
    gt = typer.Typer(help="SageMaker Ground Truth: input manifests and Lambda handler checks.", no_args_is_help=True)
    gt.command("manifest")(gt_manifest)
    gt.command("consolidate")(gt_consolidate)
    app.add_typer(gt, name="gt")
    mlflow = typer.Typer(help="MLflow: log loop rounds to a local store.", no_args_is_help=True)
    mlflow.command("log")(mlflow_log)
    app.add_typer(mlflow, name="mlflow")
    ls = typer.Typer(help="Label Studio helpers.", no_args_is_help=True)
    ls.command("config")(ls_config)
    ls.command("export")(ls_export)
    app.add_typer(ls, name="labelstudio")


@handle_errors
def notify_test(
    directory: Path = typer.Argument(None, help="Project folder whose notification settings to use (optional)."),
    webhook: str = typer.Option(None, "--webhook", help="Webhook URL (overrides the settings)."),
    telegram_token: str = typer.Option(None, "--telegram-token", help="Telegram bot token (overrides the settings)."),
    telegram_chat: str = typer.Option(None, "--telegram-chat", help="Telegram chat id (overrides the settings)."),
    message: str = typer.Option("labelloop test: notifications work", "--message", help="Text to send."),
):
    """Send a test message to every configured channel; fails with the reason if one is not delivered.

    Example: `labelloop notify test proj` or `labelloop notify test --webhook https://hooks.slack.com/services/T/B/X`
    """
    from labelloop.exceptions import ConfigError
    from labelloop.notify import from_settings

    settings: dict = {}
    if directory is not None:
        from labelloop.project import Project

        with Project.open(directory) as proj:
            settings = proj.settings
    cfg = dict(settings.get("notify") or {})
    for k, v in (("webhook_url", webhook), ("telegram_token", telegram_token), ("telegram_chat_id", telegram_chat)):
        if v:
            cfg[k] = v
    n = from_settings({"notify": cfg})
    if not n:
        raise ConfigError("no notification channel configured; use --webhook URL, --telegram-token/--telegram-chat, "
                          "or `labelloop notify set DIR ...` (or LABELLOOP_WEBHOOK_URL / LABELLOOP_TELEGRAM_*)")
    sent = n.send(message)
    typer.echo(f"sent to {sent} channel{'s' if sent != 1 else ''}")


@handle_errors
def notify_send(
    directory: Path = typer.Argument(..., help="Project folder whose notification settings to use."),
    message: str = typer.Argument(..., help="Text to send."),
):
    """Send a message to the project's notification channels (for scripts and cron jobs).

    Example: `labelloop notify send proj "nightly import finished: 12,000 new items"`
    """
    from labelloop.exceptions import ConfigError
    from labelloop.notify import for_project
    from labelloop.project import Project

    with Project.open(directory) as proj:
        n = for_project(proj)
    if not n:
        raise ConfigError(f"no notification channel configured for {directory}; run `labelloop notify set {directory} --webhook URL`")
    sent = n.send(message)
    typer.echo(f"sent to {sent} channel{'s' if sent != 1 else ''}")


@handle_errors
def notify_set(
    directory: Path = typer.Argument(..., help="Project folder."),
    webhook: str = typer.Option(None, "--webhook", help="Webhook URL (Slack-compatible JSON)."),
    telegram_token: str = typer.Option(None, "--telegram-token", help="Telegram bot token."),
    telegram_chat: str = typer.Option(None, "--telegram-chat", help="Telegram chat id."),
    clear: bool = typer.Option(False, "--clear", help="Remove every notification setting."),
):
    """Save notification channels in the project's settings.

    Example: `labelloop notify set proj --telegram-token 123:ABC --telegram-chat -100200300`
    """
    from labelloop.notify import from_settings
    from labelloop.project import Project

    with Project.open(directory) as proj:
        cfg = {} if clear else dict(proj.settings.get("notify") or {})
        for k, v in (("webhook_url", webhook), ("telegram_token", telegram_token), ("telegram_chat_id", telegram_chat)):
            if v:
                cfg[k] = v
        from_settings({"notify": cfg}, env={})  # validates before saving
        proj.update_settings(notify=cfg)
    chans = [k for k in ("webhook_url", "telegram_chat_id") if cfg.get(k)]
    typer.echo("notification channels: " + (", ".join("webhook" if c == "webhook_url" else "telegram" for c in chans) or "none"))


@handle_errors
def gt_manifest(
    directory: Path = typer.Argument(..., help="Project folder."),
    out: Path = typer.Argument(..., help="Manifest file to write (JSON lines)."),
    top: int = typer.Option(None, "--top", help="Only the N items first in the queue (highest priority, e.g. picked by active learning)."),
    unlabelled: bool = typer.Option(False, "--unlabelled", help="Only items without a final label."),
    prelabels: bool = typer.Option(False, "--prelabels", help="Add the newest model prediction as labelloop-prelabel (for auto-accept in the pre-annotation handler)."),
):
    """Write a Ground Truth input manifest (`source` / `source-ref` + `labelloop-id`) for the items to label.

    Example: `labelloop gt manifest proj batch1.manifest --top 500 --unlabelled`
    """
    from labelloop.io.formats.groundtruth import write_manifest
    from labelloop.project import Project

    with Project.open(directory) as proj:
        n = write_manifest(proj, out, top=top, unlabelled_only=unlabelled, prelabels=prelabels)
    typer.echo(f"wrote {n} items to {out}")


@handle_errors
def gt_consolidate(
    payload: Path = typer.Argument(..., help="Dataset objects JSON (what Ground Truth passes to a post-annotation Lambda)."),
    label_attribute: str = typer.Option("labelloop", "--label-attribute", help="Label attribute name of the job."),
    method: str = typer.Option("ds", "--method", help="Aggregation method: mv, wawa, ds, glad, mace, ..."),
):
    """Run the post-annotation consolidation locally and print its response (what the Lambda returns).

    Example: `labelloop gt consolidate dataset-objects.json --method ds`
    """
    from labelloop.io.formats.groundtruth import _read_uri, consolidate

    echo_json(consolidate(_read_uri(str(payload)), label_attribute=label_attribute, method=method))


@handle_errors
def ls_config(
    directory: Path = typer.Argument(..., help="Project folder."),
    out: Path = typer.Option(None, "--out", help="Write the XML here instead of printing it."),
):
    """Print the Label Studio labeling config (`<View>` XML) matching the project's classes.

    Example: `labelloop labelstudio config proj --out config.xml`
    """
    from labelloop.io.formats.labelstudio import labeling_config
    from labelloop.project import Project

    with Project.open(directory) as proj:
        schema = proj.schema
        xml = labeling_config(schema.classes, data_type=proj.data_type, multi=schema.is_multi)
    if out:
        out.write_text(xml, encoding="utf-8")
        typer.echo(f"wrote {out}")
    else:
        typer.echo(xml, nl=False)



@handle_errors
def ls_export(
    directory: Path = typer.Argument(..., help="Project folder."),
    out: Path = typer.Argument(..., help="Tasks JSON to write (the labeling config goes beside it)."),
    votes: bool = typer.Option(False, "--votes", help="Every vote: people as annotations, machines as predictions."),
    local_files_root: Path = typer.Option(None, "--local-files-root", help="Write image paths as /data/local-files/?d=... URLs relative to this folder (Label Studio's LOCAL_FILES_DOCUMENT_ROOT)."),
):
    """Export Label Studio tasks, with image URLs Label Studio's local storage can serve.

    Example: `labelloop labelstudio export photos tasks.json --local-files-root /data/photos`
    """
    from labelloop.io.formats.labelstudio import write_labelstudio
    from labelloop.project import Project

    with Project.open(directory) as proj:
        n = write_labelstudio(proj, out, votes=votes, local_files_root=local_files_root)
    typer.echo(f"wrote {n} tasks to {out}")


def _load_result(path: Path) -> dict:
    from labelloop.exceptions import InputError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the loop result: {exc}", path=path) from None
    if not isinstance(data, dict) or not (data.get("rounds") or data.get("curve")):
        raise InputError("expected a loop result JSON with 'rounds' or 'curve' (labelloop simulate --json OUT)", path=path)
    return data


def _rounds_of(data: dict) -> list[dict]:
    if data.get("rounds"):
        return list(data["rounds"])
    return [{"round": k, "labels": n, "accuracy": v} for k, (n, v) in enumerate(data["curve"])]


@handle_errors
def notify_rounds(
    directory: Path = typer.Argument(..., help="Project folder whose notification settings to use."),
    result: Path = typer.Argument(..., help="Loop result JSON with a learning curve (labelloop simulate --json OUT)."),
    target: float = typer.Option(None, "--target", help="Target score; the message says about how many more labels reach it."),
    metric: str = typer.Option("accuracy", "--metric", help="Name of the curve's score in the message."),
):
    """Send the latest round's milestone, e.g. "round 3: accuracy 0.91 with 1,200 labels; about 800 more to reach 0.95".

    Example: `labelloop notify rounds proj sim.json --target 0.95`
    """
    from labelloop.exceptions import ConfigError
    from labelloop.notify import for_project, milestone_from_curve
    from labelloop.project import Project

    data = _load_result(result)
    curve = data.get("curve") or [[r.get("human_labels", r.get("labels")), r.get("test_accuracy", r.get("accuracy"))] for r in _rounds_of(data)]
    msg = milestone_from_curve(curve, metric=metric, target=target)
    with Project.open(directory) as proj:
        n = for_project(proj)
    if not n:
        raise ConfigError(f"no notification channel configured for {directory}; run `labelloop notify set {directory} --webhook URL`")
    n.send(msg)
    typer.echo(msg)


@handle_errors
def mlflow_log(
    result: Path = typer.Argument(..., help="Loop result JSON (labelloop simulate --json OUT)."),
    store: Path = typer.Option(Path("mlruns"), "--store", help="MLflow store: a folder (file store) or a .db file (SQLite)."),
    experiment: str = typer.Option("labelloop", "--experiment", help="MLflow experiment name."),
):
    """Log every round of a loop result (parameters and metrics) to a local MLflow store.

    Example: `labelloop mlflow log sim.json --store proj/mlruns --experiment spam` then `mlflow ui --backend-store-uri proj/mlruns`
    """
    from labelloop.tracking import MlflowTracker

    data = _load_result(result)
    params = {**(data.get("params") or {}), **({"strategy": data["strategy"]} if data.get("strategy") else {})}
    t = MlflowTracker(store, experiment=experiment)
    ids = t.log_rounds(_rounds_of(data), params=params, name=str(data.get("strategy") or "loop"))
    typer.echo(f"logged {len(ids)} rounds to {t.tracking_uri} (experiment '{experiment}')")
