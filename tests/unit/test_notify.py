"""Notifications against a local HTTP server standing in for Slack / Telegram (127.0.0.1 only)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from labelloop.exceptions import ConfigError, NotificationError
from labelloop.notify import (
    Notifier,
    TelegramNotifier,
    WebhookNotifier,
    for_project,
    from_settings,
    milestone_message,
    progress_message,
)


class Recorder(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, self.headers["Content-Type"], json.loads(body)))
        status, reply = self.server.reply
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(reply).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    srv.received = []
    srv.reply = (200, {"ok": True})
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()


def test_milestone_message_wording():
    assert milestone_message(round=3, metric="accuracy", value=0.9123, n_labels=1200, target=0.95, labels_to_target=800) == (
        "round 3: accuracy 0.91 with 1,200 labels; about 800 more to reach 0.95")
    assert milestone_message(round=4, metric="f1", value=0.96, n_labels=2000, target=0.95) == "round 4: f1 0.96 with 2,000 labels; target 0.95 reached"
    assert milestone_message(round=1, metric="accuracy", value=0.5, n_labels=10) == "round 1: accuracy 0.50 with 10 labels"
    assert progress_message("embed", 2500, 10000) == "embed: 2,500 of 10,000 (25%)"


def test_webhook_posts_slack_compatible_json(server):
    WebhookNotifier(server.url + "/hooks/T1/B2/x").send("round 3: accuracy 0.91", {"labels": "1,200"})
    path, ctype, body = server.received[0]
    assert path == "/hooks/T1/B2/x" and ctype == "application/json"
    assert body["text"] == "round 3: accuracy 0.91"
    assert body["blocks"][0] == {"type": "section", "text": {"type": "mrkdwn", "text": "round 3: accuracy 0.91"}}
    assert body["blocks"][1]["fields"] == [{"type": "mrkdwn", "text": "*labels*\n1,200"}]


def test_telegram_send_message(server):
    TelegramNotifier("123:ABC", "-100200", api=server.url).send("hello")
    path, _, body = server.received[0]
    assert path == "/bot123:ABC/sendMessage"
    assert body == {"chat_id": "-100200", "text": "hello", "disable_web_page_preview": True}


def test_delivery_errors_are_named_and_redact_the_token(server):
    server.reply = (403, {"ok": False, "description": "Forbidden: bot was blocked"})
    with pytest.raises(NotificationError) as exc:
        TelegramNotifier("123:SECRET", "1", api=server.url).send("x")
    assert "HTTP 403" in str(exc.value) and "SECRET" not in str(exc.value)
    server.reply = (200, {"ok": False, "description": "chat not found"})
    with pytest.raises(NotificationError, match="chat not found"):
        TelegramNotifier("t", "1", api=server.url).send("x")
    with pytest.raises(NotificationError, match="cannot reach the webhook"):
        WebhookNotifier("http://127.0.0.1:9/closed", timeout=2).send("x")


def test_notifier_fans_out_and_can_swallow_errors(server, caplog):
    n = from_settings({"notify": {"webhook_url": server.url + "/w", "telegram_token": "t", "telegram_chat_id": "5", "telegram_api": server.url}}, env={})
    assert n.milestone(round=1, metric="accuracy", value=0.8, n_labels=100) == 2
    assert [r[0] for r in server.received] == ["/w", "/bott/sendMessage"]
    broken = Notifier([WebhookNotifier("http://127.0.0.1:9/x", timeout=2)], raise_errors=False)
    assert broken.send("x") == 0
    assert "notification not delivered" in caplog.text


def test_progress_is_throttled(server):
    n = Notifier([WebhookNotifier(server.url)], min_interval_s=3600)
    assert n.progress("import", 10, 100) == 1
    assert n.progress("import", 20, 100) == 0
    assert n.progress("import", 100, 100, force=True) == 1
    assert [b["text"] for _, _, b in server.received] == ["import: 10 of 100 (10%)", "import: 100 of 100 (100%)"]


def test_settings_from_environment_and_validation():
    n = from_settings({}, env={"LABELLOOP_WEBHOOK_URL": "http://127.0.0.1:1/x"})
    assert len(n.channels) == 1 and not from_settings({}, env={})
    with pytest.raises(ConfigError, match="chat id"):
        from_settings({"notify": {"telegram_token": "t"}}, env={})
    with pytest.raises(ConfigError, match="http"):
        WebhookNotifier("ftp://x")


def test_project_settings(tmp_path, server):
    from labelloop.project import Project

    proj = Project.init(tmp_path / "p")
    proj.update_settings(notify={"webhook_url": server.url + "/p"})
    assert for_project(proj, env={}).send("hi") == 1
    assert server.received[0][0] == "/p"


@pytest.mark.slow
def test_cli_notify_set_and_test(tmp_path, server, cli):
    assert cli("init", tmp_path / "p").returncode == 0
    r = cli("notify", "set", tmp_path / "p", "--webhook", server.url + "/cli")
    assert r.returncode == 0, r.stderr
    r = cli("notify", "test", tmp_path / "p", "--message", "ping")
    assert r.returncode == 0, r.stderr
    assert "sent to 1 channel" in r.stdout
    assert server.received[-1][2]["text"] == "ping"
    r = cli("notify", "send", tmp_path / "p", "nightly import finished")
    assert r.returncode == 0, r.stderr
    assert server.received[-1][2]["text"] == "nightly import finished"
    curve = [[n, 0.97 - 0.9 * n**-0.5] for n in (100, 200, 400, 800, 1200)]
    (tmp_path / "sim.json").write_text(json.dumps({"strategy": "margin", "curve": curve}))
    r = cli("notify", "rounds", tmp_path / "p", tmp_path / "sim.json", "--target", "0.95")
    assert r.returncode == 0, r.stderr
    assert server.received[-1][2]["text"] == "round 4: accuracy 0.94 with 1,200 labels; about 800 more to reach 0.95"
    r = cli("notify", "test", "--webhook", "http://127.0.0.1:9/x")
    assert r.returncode != 0 and "error: cannot reach the webhook" in r.stderr and "Traceback" not in r.stderr


def test_milestone_from_a_learning_curve():
    from labelloop.notify import milestone_from_curve

    # score = 0.97 - 0.9 / sqrt(n): 0.95 needs (0.9 / 0.02)^2 = 2,025 labels, 825 more than 1,200
    curve = [[n, 0.97 - 0.9 * n**-0.5] for n in (100, 200, 400, 800, 1200)]
    assert milestone_from_curve(curve, target=0.95) == "round 4: accuracy 0.94 with 1,200 labels; about 800 more to reach 0.95"
    assert milestone_from_curve(curve, target=0.99).endswith("target 0.99 not reached yet")  # above the curve's ceiling
    assert milestone_from_curve(curve[:2], target=0.95).endswith("target 0.95 not reached yet")  # too few points to fit
    assert milestone_from_curve(curve, target=0.9, metric="f1").endswith("f1 0.94 with 1,200 labels; target 0.90 reached")
