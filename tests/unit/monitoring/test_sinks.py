"""Alert sinks against a real HTTP server on 127.0.0.1, a real file, and the logging module."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from keel.domain.policy import Sink
from keel.errors import InvalidInput
from keel.monitoring.sinks import (
    AlertSink,
    DeliveryFailed,
    FileSink,
    LogSink,
    MemorySink,
    SlackSink,
    WebhookSink,
    build_sinks,
    summarize,
)

SECRET = "s3cr3t-value"
ALERT = {
    "event": "alert.fired",
    "model": "fraud",
    "delivery": "41",
    "at": "2026-01-01T00:00:00+00:00",
    "alert": {
        "id": 3,
        "rule": "accuracy < 0.92",
        "state": "firing",
        "severity": "critical",
        "value": 0.8712,
        "threshold": 0.92,
        "message": "accuracy is 0.8712",
    },
}


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A webhook receiver: answers with the scripted replies in order, then 200s; records all."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests.append(
                        Received(time.monotonic(), self.path, dict(self.headers), body)
                    )
                    reply = receiver.script.pop(0) if receiver.script else Reply()
                time.sleep(reply.delay_s)
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the client gave up waiting (timeout tests)
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = False  # server_close() joins every handler thread
            block_on_close = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}
        )

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def webhook(url: str, **options: Any) -> WebhookSink:
    options.setdefault("backoff_s", 0.01)
    return WebhookSink(url, **options)


def test_webhook_posts_json_with_headers_and_a_verifiable_signature(receiver: Receiver) -> None:
    with webhook(receiver.url, secret=SECRET) as sink:
        sink.send(ALERT)
    [got] = receiver.requests
    assert got.path == "/hook"
    assert json.loads(got.body) == ALERT
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Keel-Event"] == "alert.fired"
    assert got.headers["X-Keel-Delivery"] == "41"
    timestamp = got.headers["X-Keel-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + got.body, hashlib.sha256)
    assert got.headers["X-Keel-Signature"] == "sha256=" + expected.hexdigest()
    forged = hmac.new(b"other", f"{timestamp}.".encode() + got.body, hashlib.sha256)
    assert got.headers["X-Keel-Signature"] != "sha256=" + forged.hexdigest()


def test_webhook_without_secret_sends_no_signature(receiver: Receiver) -> None:
    with webhook(receiver.url) as sink:
        sink.send(ALERT)
    assert "X-Keel-Signature" not in receiver.requests[0].headers


def test_two_503s_are_retried_then_delivered_with_the_same_delivery_id(
    receiver: Receiver,
) -> None:
    receiver.script = [Reply(503), Reply(503)]
    with webhook(receiver.url, secret=SECRET, retries=3) as sink:
        sink.send(ALERT)
    assert len(receiver.requests) == 3
    assert {r.headers["X-Keel-Delivery"] for r in receiver.requests} == {"41"}
    assert len({r.body for r in receiver.requests}) == 1


def test_429_is_retried_and_exhausted_retries_raise(receiver: Receiver) -> None:
    receiver.script = [Reply(429), Reply(500), Reply(502)]
    with webhook(receiver.url, retries=2) as sink, pytest.raises(DeliveryFailed) as caught:
        sink.send(ALERT)
    assert len(receiver.requests) == 3
    assert caught.value.attempts == 3
    assert caught.value.reason == "HTTP 502"
    assert caught.value.sink == sink.name


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_other_4xx_are_not_retried(receiver: Receiver, status: int) -> None:
    receiver.script = [Reply(status)]
    with webhook(receiver.url, retries=3) as sink, pytest.raises(DeliveryFailed) as caught:
        sink.send(ALERT)
    assert len(receiver.requests) == 1
    assert caught.value.attempts == 1
    assert f"HTTP {status}" in caught.value.reason


def test_retry_after_is_honoured(receiver: Receiver) -> None:
    receiver.script = [Reply(503, {"Retry-After": "1"})]
    with webhook(receiver.url, retries=1, backoff_s=0.01) as sink:
        sink.send(ALERT)
    first, second = receiver.requests
    assert second.at - first.at >= 0.95


def test_retry_after_is_bounded(receiver: Receiver) -> None:
    receiver.script = [Reply(429, {"Retry-After": "3600"})]
    with webhook(receiver.url, retries=1, max_retry_after_s=0.05) as sink:
        sink.send(ALERT)
    first, second = receiver.requests
    assert 0.04 <= second.at - first.at < 1.0


def test_retry_after_as_an_http_date(receiver: Receiver) -> None:
    from email.utils import formatdate

    receiver.script = [Reply(503, {"Retry-After": formatdate(time.time() + 2, usegmt=True)})]
    with webhook(receiver.url, retries=1, max_retry_after_s=1.0) as sink:
        sink.send(ALERT)
    first, second = receiver.requests
    assert 0.5 <= second.at - first.at < 1.9  # the date asks for up to 2 s, capped at 1 s


def test_a_timeout_is_retried(receiver: Receiver) -> None:
    receiver.script = [Reply(200, delay_s=0.6)]
    with webhook(receiver.url, timeout_s=0.2, retries=1) as sink:
        sink.send(ALERT)
    assert len(receiver.requests) == 2


def test_timeouts_exhaust_the_retries(receiver: Receiver) -> None:
    receiver.script = [Reply(200, delay_s=0.5), Reply(200, delay_s=0.5)]
    started = time.monotonic()
    with (
        webhook(receiver.url, timeout_s=0.15, retries=1) as sink,
        pytest.raises(DeliveryFailed) as caught,
    ):
        sink.send(ALERT)
    assert time.monotonic() - started < 1.5
    assert caught.value.attempts == 2
    assert "timed out" in caught.value.reason


def test_connection_refused_is_retried_then_fails() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        webhook(f"http://127.0.0.1:{port}/", retries=2) as sink,
        pytest.raises(DeliveryFailed) as caught,
    ):
        sink.send(ALERT)
    assert caught.value.attempts == 3
    assert "ConnectError" in caught.value.reason


def test_slack_body_is_a_readable_line_with_blocks(receiver: Receiver) -> None:
    with SlackSink(receiver.url, backoff_s=0.01) as sink:
        sink.send(ALERT)
    body = json.loads(receiver.requests[0].body)
    assert set(body) == {"text", "blocks"}
    assert body["text"] == (
        "[CRITICAL] fraud: accuracy &lt; 0.92 (value 0.8712 vs threshold 0.92) FIRING"
    )
    section, context = body["blocks"]
    assert section == {"type": "section", "text": {"type": "mrkdwn", "text": body["text"]}}
    assert context["type"] == "context"
    assert "delivery 41" in context["elements"][0]["text"]
    assert receiver.requests[0].headers["X-Keel-Delivery"] == "41"


def test_summaries_of_resolved_alerts_reminders_and_events() -> None:
    resolved = {
        **ALERT,
        "event": "alert.resolved",
        "alert": {**ALERT["alert"], "state": "resolved"},
    }
    assert summarize(resolved).endswith("RESOLVED")
    reminder = {**ALERT, "event": "alert.reminder"}
    assert summarize(reminder).endswith("FIRING (reminder)")
    event = {
        "event": "alias.set",
        "model": "fraud",
        "actor": "ann",
        "subject": "model:fraud",
        "details": {"alias": "champion", "version": 3},
    }
    assert summarize(event) == "fraud: alias.set by ann on model:fraud (alias=champion, version=3)"


def test_file_sink_appends_json_lines_and_creates_folders(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "alerts.jsonl"
    sink = FileSink(path)
    sink.send(ALERT)
    sink.send({**ALERT, "delivery": "42"})
    sink.close()
    lines = path.read_text().splitlines()
    assert [json.loads(line)["delivery"] for line in lines] == ["41", "42"]
    assert json.loads(lines[0]) == ALERT


def test_file_sink_failure_is_a_delivery_failure(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(DeliveryFailed) as caught:
        FileSink(tmp_path / "taken").send(ALERT)
    assert caught.value.attempts == 1


def test_log_sink_logs_a_summary_at_a_level_matching_the_severity(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="keel.alerts"):
        LogSink().send(ALERT)
        LogSink().send({**ALERT, "event": "alert.resolved"})
    fired, resolved = caplog.records
    assert fired.name == "keel.alerts"
    assert fired.levelno == logging.ERROR  # critical
    assert fired.getMessage() == summarize(ALERT)
    assert resolved.levelno == logging.INFO


def test_build_sinks_reads_the_secret_by_name_and_signs(receiver: Receiver) -> None:
    specs = [
        Sink(type="log"),
        Sink(type="webhook", url=receiver.url, secret_env="HOOK_SECRET", name="ops"),
    ]
    sinks = build_sinks(specs, {"HOOK_SECRET": SECRET})
    try:
        assert [s.name for s in sinks] == ["log:keel", "ops"]
        assert all(isinstance(s, AlertSink) for s in sinks)
        assert SECRET not in repr(sinks)
        sinks[1].send(ALERT)
    finally:
        for sink in sinks:
            sink.close()
    headers = receiver.requests[0].headers
    timestamp = headers["X-Keel-Timestamp"]
    body = receiver.requests[0].body
    mac = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["X-Keel-Signature"] == f"sha256={mac}"


def test_a_missing_secret_env_is_invalid_input_naming_the_field() -> None:
    specs = [
        Sink(type="webhook", url="https://example.invalid/a"),
        Sink(type="webhook", url="https://example.invalid/b", secret_env="NOT_SET_ANYWHERE"),
    ]
    with pytest.raises(InvalidInput) as caught:
        build_sinks(specs, {})
    assert caught.value.field == "monitoring.sinks[1].secret_env"
    assert "NOT_SET_ANYWHERE" in caught.value.problem


def test_duplicate_sink_names_are_refused() -> None:
    specs = [Sink(type="log", name="ops"), Sink(type="file", path="/tmp/x.jsonl", name="ops")]
    with pytest.raises(InvalidInput) as caught:
        build_sinks(specs, {})
    assert caught.value.field == "monitoring.sinks[1].name"


def test_webhook_and_slack_names_do_not_reveal_the_url_path() -> None:
    url = "https://hooks.slack.com/services/T000/B000/XXXXSECRETTOKEN"
    sinks = build_sinks([Sink(type="slack", url=url)], {})
    try:
        assert sinks[0].name.startswith("slack:hooks.slack.com#")
        assert "XXXXSECRETTOKEN" not in sinks[0].name + repr(sinks[0])
    finally:
        sinks[0].close()


def test_every_sink_satisfies_the_protocol(tmp_path: Path) -> None:
    made: list[Any] = [
        MemorySink(),
        LogSink(),
        FileSink(tmp_path / "a.jsonl"),
        WebhookSink("http://127.0.0.1:9/"),
        SlackSink("http://127.0.0.1:9/"),
    ]
    try:
        assert all(isinstance(sink, AlertSink) for sink in made)
        assert len({sink.name for sink in made}) == len(made)
    finally:
        for sink in made:
            sink.close()
