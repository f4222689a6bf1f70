"""Server commands: serve, user add/list, configure, worker."""

from __future__ import annotations

from pathlib import Path

import typer

from labelloop.cli._common import echo_json, handle_errors


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("configure")(configure)
    app.command("worker")(worker)
    user = typer.Typer(help="Manage the users who log in to the labelling server.", no_args_is_help=True)
    user.command("add")(user_add)
    user.command("list")(user_list)
    app.add_typer(user, name="user")


@handle_errors
def serve(
    directories: list[Path] = typer.Argument(..., help="Project folder(s) to serve (they must share one database)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    no_worker: bool = typer.Option(False, "--no-worker", help="Do not run the background worker thread (run `labelloop worker DIR` instead)."),
    secure_cookies: bool = typer.Option(False, "--secure-cookies", help="Mark cookies Secure (when served behind HTTPS)."),
    max_body: int = typer.Option(1_000_000, "--max-body", help="Largest request body in bytes."),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
    demo_logins: bool = typer.Option(False, "--demo-logins", help="Create (or reset) users demo-admin and demo-annotator with random passwords and print them."),
    login_failures_per_user: int = typer.Option(5, "--login-failures-per-user", min=0, help="Failed logins per user name per minute before 429 (0: no limit)."),
    login_failures_per_ip: int = typer.Option(30, "--login-failures-per-ip", min=0, help="Failed logins per client address per minute before 429 (0: no limit)."),
):
    """Serve the labelling UI and REST API of a project.

    Example: `labelloop serve spam --port 8000`, then open http://127.0.0.1:8000/ and log in
    (create users first with `labelloop user add spam alice --role annotator`).
    """
    from labelloop.server.run import serve as run_server

    run_server(directories, host=host, port=port, worker=not no_worker, with_demo_logins=demo_logins, say=typer.echo,
               log_level=log_level, secure_cookies=secure_cookies, max_body_bytes=max_body,
               login_failures_per_user=login_failures_per_user, login_failures_per_ip=login_failures_per_ip)


@handle_errors
def user_add(
    directory: Path = typer.Argument(..., help="Project folder (users live in its database)."),
    name: str = typer.Argument(..., help="Login name."),
    role: str = typer.Option("annotator", "--role", help="admin, reviewer or annotator."),
    password: str = typer.Option(None, "--password", help="Password (prompted for when not given; at least 8 characters)."),
    replace: bool = typer.Option(False, "--replace", help="Reset the role and password of an existing user."),
):
    """Create a user who can log in to the labelling server.

    Example: `labelloop user add spam alice --role annotator` (asks for the password)
    """
    from labelloop.project import Project
    from labelloop.store.users import add_user, validate_user

    validate_user(name, role, None)
    if password is None:
        password = typer.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    validate_user(name, role, password)
    with Project.open(directory) as proj, proj.session() as s:
        add_user(s, name, role, password, replace=replace)
    typer.echo(f"user '{name}' ({role}) {'updated' if replace else 'created'}")


@handle_errors
def user_list(directory: Path = typer.Argument(..., help="Project folder."), as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """List users and their roles.

    Example: `labelloop user list spam`
    """
    from labelloop.project import Project
    from labelloop.store.users import list_users

    with Project.open(directory) as proj, proj.session() as s:
        rows = [{"name": u.name, "role": u.role, "paused": u.paused_reason} for u in list_users(s)]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['name']:<24} {r['role']:<10} {'PAUSED: ' + r['paused'] if r['paused'] else ''}")


@handle_errors
def configure(
    directory: Path = typer.Argument(..., help="Project folder."),
    overlap: int = typer.Option(None, "--overlap", help="Distinct annotators per item."),
    max_overlap: int = typer.Option(None, "--max-overlap", help="Dynamic overlap: ask up to this many while the aggregate is below --confidence-target (0 = off)."),
    confidence_target: float = typer.Option(None, "--confidence-target", help="Confidence at which an item needs no further answers."),
    honeypot_rate: float = typer.Option(None, "--honeypot-rate", help="Share of handed-out items that are honeypots (items with gold answers)."),
    lease_seconds: int = typer.Option(None, "--lease-seconds", help="Seconds before an unanswered item goes back to the queue."),
    honeypot_min: int = typer.Option(None, "--honeypot-min", help="Honeypots answered before an annotator can be paused."),
    pause_below: float = typer.Option(None, "--pause-below", help="Pause an annotator whose honeypot accuracy falls below this."),
    model_accuracy: float = typer.Option(None, "--model-accuracy", help="Weight of model predictions in the live consensus, as an accuracy."),
    blind: bool = typer.Option(None, "--blind/--no-blind", help="Hide model pre-labels from annotators."),
    mode: str = typer.Option(None, "--mode", help="label, or accept_reject for fast binary passes over pre-labels."),
    retrain_every: int = typer.Option(None, "--retrain-every", help="The worker runs a round every K new answers."),
    worker_loop: bool = typer.Option(None, "--worker-loop/--no-worker-loop", help="Let the worker's round also retrain the model (pre-labels, priorities)."),
    media_root: list[str] = typer.Option(None, "--media-root", help="Extra folder images may be served from (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the settings as JSON."),
):
    """Set a project's queue settings (also editable on the admin page).

    Example: `labelloop configure spam --overlap 3 --honeypot-rate 0.1 --lease-seconds 300`
    """
    from labelloop.exceptions import InputError
    from labelloop.project import Project
    from labelloop.store.queue import QueueSettings, validate_settings

    values = dict(overlap=overlap, max_overlap=max_overlap, confidence_target=confidence_target, honeypot_rate=honeypot_rate,
                  lease_seconds=lease_seconds, honeypot_min=honeypot_min, pause_below=pause_below, model_accuracy=model_accuracy,
                  blind=blind, mode=mode, retrain_every=retrain_every, worker_loop=worker_loop, media_roots=list(media_root) if media_root else None)
    values = validate_settings(values)
    with Project.open(directory) as proj:
        merged = QueueSettings.from_dict({**proj.settings, **values})
        if merged.max_overlap and merged.max_overlap < merged.overlap:
            raise InputError(f"--max-overlap ({merged.max_overlap}) must be 0 or at least --overlap ({merged.overlap})")
        proj.update_settings(**values)
        out = QueueSettings.from_dict(proj.settings).to_dict()
        if values.get("overlap") is not None or values.get("max_overlap") is not None:
            from labelloop.store.queue import Database, QueueContext, sync_queue

            db = Database(proj.resolved_url, pool_size=1)
            try:
                with db.writing() as s:
                    sync_queue(s, QueueContext(project_id=proj.id, schema=proj.schema, settings=merged, postgres=db.postgres))
            finally:
                db.dispose()
    if as_json:
        echo_json(out)
    else:
        typer.echo(" ".join(f"{k}={v}" for k, v in out.items()))


@handle_errors
def worker(
    directory: Path = typer.Argument(..., help="Project folder."),
    once: bool = typer.Option(False, "--once", help="Run one round now and exit."),
    poll: float = typer.Option(2.0, "--poll", help="Seconds between checks for new answers."),
):
    """Run the background worker as its own process: a round every K new answers.

    Example: `labelloop worker spam` (beside `labelloop serve spam --no-worker`), or `labelloop worker spam --once`
    """
    from labelloop.project import Project
    from labelloop.schema import LabelSchema
    from labelloop.server.state import ProjectHandle
    from labelloop.server.worker import Worker
    from labelloop.store.queue import Database, QueueContext, QueueSettings

    proj = Project.open(directory)
    db = Database(proj.resolved_url, pool_size=2)
    handle = ProjectHandle(project=proj, db=db, ctx=QueueContext(project_id=proj.id, schema=LabelSchema(), settings=QueueSettings(), postgres=db.postgres))
    handle.refresh(force=True)
    w = Worker(handle, poll_seconds=poll)
    try:
        if once:
            res = w.run_once()
            typer.echo(f"{res['state']}: {res['message']}")
            if res["state"] != "done":
                raise typer.Exit(1)
        else:
            typer.echo(f"worker on '{proj.name}': a round every {handle.ctx.settings.retrain_every} new answers (Ctrl-C to stop)")
            w.run_forever()
    finally:
        db.dispose()
        proj.close()
