"""config/alerts.toml is read with every mistake named by file and key; the webhook is signed
like the export feeds and retried until a receiver acknowledges it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from callcenter.alerts.notify import WebhookError, body_of, deliver
from callcenter.alerts.settings import AlertSettings, Webhook, load_alerts
from callcenter.data.feeds import verify_signature
from callcenter.tomlreader import ConfigErrors

REPO = Path(__file__).resolve().parents[3]


def test_the_shipped_config_loads() -> None:
    settings = load_alerts(REPO / "config")
    assert settings.cluster.min_callers >= 2 and "上访" in settings.lexicon.group
    assert load_alerts(REPO / "no-such-dir") == AlertSettings()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[surge]\nweeks = 0\n", "surge.weeks"),
        ("[surge]\np_value = 2.0\n", "surge.p_value"),
        ("[surge]\nlong_window_minutes = 60\n", "surge.long_window_minutes"),
        ("[surge]\nwindow_minutes = 30\nlong_window_minutes = -1\n", "surge.long_window_minutes"),
        ("[surge]\nlift_z = -1.0\n", "surge.lift_z"),
        ('[cluster]\nscope = "city"\n', "cluster.scope"),
        ("[repeat]\ncaller_count = 1\n", "repeat.caller_count"),
        ('[lexicon]\ngroup = [""]\n', "lexicon.group"),
        ('[webhook]\nurl = "ftp://x"\n', "webhook.url"),
        ("[surge]\nwindow = 5\n", "surge.window"),
        ("[other]\n", "other"),
    ],
)
def test_mistakes_name_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    (tmp_path / "alerts.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigErrors) as caught:
        load_alerts(tmp_path)
    assert "alerts.toml" in str(caught.value) and key in str(caught.value)


class _Receiver(BaseHTTPRequestHandler):
    answers: list[int] = []
    received: list[tuple[bytes, str]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, self.headers.get("X-CC-Signature", "")))
        self.send_response(self.answers.pop(0) if self.answers else 200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"answers": [], "received": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", handler
    server.shutdown()
    server.server_close()


def test_webhook_signed_and_retried(receiver: tuple[str, type[_Receiver]]) -> None:
    url, handler = receiver
    handler.answers.extend([500, 503])
    body = body_of({"id": 1, "title": "集中反映"}, {"callers": 6, "ticket_ids": [1, 2]})
    pauses: list[float] = []
    hook = Webhook(url=url, secret_env="HOOK_SECRET", attempts=5, backoff=0.1)
    attempts = deliver(hook, body, {"HOOK_SECRET": "s3cret"}, sleep=pauses.append)
    assert attempts == 3 and len(pauses) == 2
    assert len(handler.received) == 3
    sent, signature = handler.received[-1]
    assert sent == body and b"ticket_ids" not in sent  # counts, never the tickets
    assert verify_signature(sent, signature, b"s3cret")
    assert not verify_signature(sent, signature, b"other")


def test_webhook_gives_up_and_needs_its_secret(receiver: tuple[str, type[_Receiver]]) -> None:
    url, handler = receiver
    handler.answers.extend([500] * 3)
    hook = Webhook(url=url, secret_env="HOOK_SECRET", attempts=3, backoff=0.1)
    with pytest.raises(WebhookError, match="3 次"):
        deliver(hook, b"{}", {"HOOK_SECRET": "s"}, sleep=lambda _: None)
    with pytest.raises(WebhookError, match="HOOK_SECRET"):
        deliver(hook, b"{}", {}, sleep=lambda _: None)
