"""Notifications: loop milestones and long-job progress to a webhook or a Telegram bot.

* :class:`WebhookNotifier` POSTs Slack-compatible JSON (``{"text": ...}``; Slack, Mattermost,
  Rocket.Chat and most chat webhooks accept it) to a URL.
* :class:`TelegramNotifier` calls the Bot API's ``sendMessage`` with a bot token and chat id.

Settings live in the project (``labelloop notify set DIR --webhook URL`` writes them into the
project's settings under ``notify``) or in the environment (``LABELLOOP_WEBHOOK_URL``,
``LABELLOOP_TELEGRAM_TOKEN``, ``LABELLOOP_TELEGRAM_CHAT_ID``). :func:`from_settings` builds every
configured notifier; :func:`milestone_message` writes the standard round summary, e.g.
``round 3: accuracy 0.91 with 1,200 labels; about 800 more to reach 0.95``.

Only the standard library is used (``urllib``); a failed delivery raises
:class:`~labelloop.exceptions.NotificationError` unless ``raise_errors=False``, in which case it
is logged as a warning so a long job is never stopped by a chat outage.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from labelloop.exceptions import ConfigError, NotificationError

log = logging.getLogger(__name__)

TELEGRAM_API = "https://api.telegram.org"
ENV = {"webhook_url": "LABELLOOP_WEBHOOK_URL", "telegram_token": "LABELLOOP_TELEGRAM_TOKEN",
       "telegram_chat_id": "LABELLOOP_TELEGRAM_CHAT_ID", "telegram_api": "LABELLOOP_TELEGRAM_API"}


def _post_json(url: str, payload: dict[str, Any], *, timeout: float, what: str, redact: str | None = None) -> dict[str, Any]:
    data = json.dumps(payload).encode("utf-8")
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    shown = url.replace(redact, "***") if redact else url
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:200].decode("utf-8", "replace")
        raise NotificationError(f"{what} at {shown} answered HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NotificationError(f"cannot reach {what} at {shown}: {reason}") from None
    try:
        return json.loads(body) if body.strip().startswith(b"{") else {}
    except json.JSONDecodeError:
        return {}


@dataclass
class WebhookNotifier:
    """POST ``{"text": message}`` (Slack-compatible) to ``url``."""

    url: str
    timeout: float = 10.0
    username: str | None = None

    def __post_init__(self):
        if not self.url.lower().startswith(("http://", "https://")):
            raise ConfigError(f"webhook URL must start with http:// or https://, got {self.url!r}")

    def payload(self, message: str, fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
        p: dict[str, Any] = {"text": message}
        if self.username:
            p["username"] = self.username
        if fields:
            p["blocks"] = [
                {"type": "section", "text": {"type": "mrkdwn", "text": message}},
                {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields.items()][:10]},
            ]
        return p

    def send(self, message: str, fields: Mapping[str, Any] | None = None) -> None:
        _post_json(self.url, self.payload(message, fields), timeout=self.timeout, what="the webhook")


@dataclass
class TelegramNotifier:
    """Send a message through a Telegram bot (``token``) to a chat (``chat_id``)."""

    token: str
    chat_id: str
    api: str = TELEGRAM_API
    timeout: float = 10.0

    def __post_init__(self):
        if not self.token or not str(self.chat_id).strip():
            raise ConfigError("Telegram needs both a bot token and a chat id")

    def send(self, message: str, fields: Mapping[str, Any] | None = None) -> None:
        text = message + ("".join(f"\n{k}: {v}" for k, v in fields.items()) if fields else "")
        url = f"{self.api.rstrip('/')}/bot{self.token}/sendMessage"
        out = _post_json(url, {"chat_id": self.chat_id, "text": text, "disable_web_page_preview": True},
                         timeout=self.timeout, what="Telegram", redact=self.token)
        if out and out.get("ok") is False:
            raise NotificationError(f"Telegram refused the message: {out.get('description', 'no reason given')}")


@dataclass
class Notifier:
    """Every configured channel at once; see :func:`from_settings`."""

    channels: list[Any] = field(default_factory=list)
    raise_errors: bool = True
    min_interval_s: float = 0.0  # for progress(): at most one message per interval
    _last: float = field(default=0.0, repr=False)

    def __bool__(self) -> bool:
        return bool(self.channels)

    def send(self, message: str, fields: Mapping[str, Any] | None = None) -> int:
        """Send to every channel; returns how many delivered."""
        ok = 0
        errors = []
        for ch in self.channels:
            try:
                ch.send(message, fields)
                ok += 1
            except NotificationError as exc:
                errors.append(str(exc))
        if errors:
            if self.raise_errors:
                raise NotificationError("; ".join(errors))
            for e in errors:
                log.warning("notification not delivered: %s", e)
        return ok

    def milestone(self, **kw: Any) -> int:
        return self.send(milestone_message(**kw))

    def progress(self, job: str, done: int, total: int | None = None, *, force: bool = False) -> int:
        """A progress line for a long job, throttled to one per ``min_interval_s``."""
        now = time.monotonic()
        if not force and self._last and now - self._last < self.min_interval_s:
            return 0
        self._last = now
        return self.send(progress_message(job, done, total))


def milestone_message(*, round: int, metric: str, value: float, n_labels: int, target: float | None = None,
                      labels_to_target: int | None = None) -> str:
    """``round 3: accuracy 0.91 with 1,200 labels; about 800 more to reach 0.95``."""
    msg = f"round {round}: {metric} {value:.2f} with {n_labels:,} labels"
    if target is not None:
        if value >= target:
            msg += f"; target {target:.2f} reached"
        elif labels_to_target is not None:
            msg += f"; about {labels_to_target:,} more to reach {target:.2f}"
        else:
            msg += f"; target {target:.2f} not reached yet"
    return msg


def milestone_from_curve(curve, *, round: int | None = None, metric: str = "accuracy", target: float | None = None) -> str:
    """The milestone message of the last point of a learning curve ``[[labels, score], ...]``
    (a loop's ``curve``); with ``target``, the labels still needed come from a power-law fit of
    the curve (:func:`labelloop.loop.curves.fit_learning_curve`) when it has 3+ points."""
    import builtins
    import math

    pts = [(float(n), float(v)) for n, v in curve]
    if not pts:
        from labelloop.exceptions import InputError

        raise InputError("the curve has no points")
    n_now, value = pts[-1]
    more = None
    if target is not None and value < target and len({n for n, _ in pts}) >= 3:
        try:
            from labelloop.loop.curves import fit_learning_curve

            need = fit_learning_curve([n for n, _ in pts], [v for _, v in pts], n_boot=0).labels_needed(target)["labels"]
            if math.isfinite(need) and need > n_now:
                more = int(builtins.round((need - n_now) / 100.0) * 100) or int(need - n_now)
        except (ImportError, ValueError, RuntimeError):
            more = None
    return milestone_message(round=len(pts) - 1 if round is None else round, metric=metric, value=value,
                             n_labels=int(n_now), target=target, labels_to_target=more)


def progress_message(job: str, done: int, total: int | None = None) -> str:
    if total:
        return f"{job}: {done:,} of {total:,} ({100.0 * done / total:.0f}%)"
    return f"{job}: {done:,} done"


def settings_from(project_settings: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Notification settings: the project's ``notify`` settings, then the environment."""
    env = os.environ if env is None else env
    cfg = dict((project_settings or {}).get("notify") or {})
    for key, var in ENV.items():
        if not cfg.get(key) and env.get(var):
            cfg[key] = env[var]
    return cfg


def from_settings(project_settings: Mapping[str, Any] | None = None, *, env: Mapping[str, str] | None = None,
                  raise_errors: bool = True, min_interval_s: float = 0.0) -> Notifier:
    """A :class:`Notifier` with every channel configured in the settings (maybe none)."""
    cfg = settings_from(project_settings, env)
    chans: list[Any] = []
    if cfg.get("webhook_url"):
        chans.append(WebhookNotifier(str(cfg["webhook_url"]), username=cfg.get("username")))
    if cfg.get("telegram_token") or cfg.get("telegram_chat_id"):
        chans.append(TelegramNotifier(str(cfg.get("telegram_token") or ""), str(cfg.get("telegram_chat_id") or ""),
                                      api=str(cfg.get("telegram_api") or TELEGRAM_API)))
    return Notifier(chans, raise_errors=raise_errors, min_interval_s=min_interval_s)


def for_project(project, **kw: Any) -> Notifier:
    """The notifier configured for a :class:`~labelloop.project.Project`."""
    return from_settings(project.settings, **kw)


__all__ = ["Notifier", "TelegramNotifier", "WebhookNotifier", "for_project", "from_settings", "milestone_from_curve",
           "milestone_message", "progress_message", "settings_from"]
