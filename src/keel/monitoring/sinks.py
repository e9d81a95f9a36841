"""Alert sinks: where alerts and routed registry events are delivered.

A sink is a tiny back end (``name``, ``send(payload)``, ``close()``) so the outbox in
``keel.monitoring.outbox`` can deliver to any of them the same way and record, per sink, whether
it worked. ``send`` either delivers or raises :class:`DeliveryFailed`; it never half-succeeds
silently. Shipped here: a log line, a JSON-lines file, a signed webhook, Slack, and an in-memory
sink for tests.

Webhook receivers can trust and de-duplicate what they get: every POST carries
``X-Keel-Delivery`` (the same id on every retry, so a receiver keeps the first and drops the
rest) and, when a secret is configured, ``X-Keel-Signature: sha256=HMAC(secret, "{ts}.{body}")``
over ``X-Keel-Timestamp`` and the exact body bytes, which lets it reject forged or replayed posts.

>>> sink = MemorySink()
>>> sink.send({"event": "alias.set", "model": "fraud", "delivery": "7"})
>>> [p["delivery"] for p in sink.payloads]
['7']
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import random
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import orjson

from keel.domain.policy import Sink
from keel.errors import InvalidInput, KeelError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "AlertSink",
    "DeliveryFailed",
    "FileSink",
    "LogSink",
    "MemorySink",
    "SlackSink",
    "WebhookSink",
    "build_sinks",
    "sign",
    "summarize",
]

logger = logging.getLogger("keel.alerts")


class DeliveryFailed(KeelError):
    """A sink could not deliver a payload (after its own retries, if it has any)."""

    code = "delivery_failed"

    def __init__(self, sink: str, attempts: int, reason: str) -> None:
        tries = "attempt" if attempts == 1 else "attempts"
        super().__init__(
            f"delivery to {sink} failed after {attempts} {tries}: {reason}",
            sink=sink,
            attempts=attempts,
            reason=reason,
        )
        self.sink = sink
        self.attempts = attempts
        self.reason = reason


@runtime_checkable
class AlertSink(Protocol):
    """Where notifications go; ``name`` identifies the sink in the notifications table."""

    name: str

    def send(self, payload: dict[str, Any]) -> None:
        """Deliver one payload or raise DeliveryFailed."""
        ...

    def close(self) -> None:
        """Release connections and files; the sink is not used afterwards."""
        ...


def summarize(payload: Mapping[str, Any]) -> str:
    """One readable line for people: severity, model, rule, value against threshold, state."""
    model = payload.get("model", "?")
    alert = payload.get("alert")
    if isinstance(alert, Mapping):
        state = "RESOLVED" if alert.get("state") == "resolved" else "FIRING"
        if payload.get("event") == "alert.reminder":
            state += " (reminder)"
        elif alert.get("state") == "acknowledged":
            state = "ACKNOWLEDGED"
        severity = str(alert.get("severity", "warning")).upper()
        return (
            f"[{severity}] {model}: {alert.get('rule')} (value {_number(alert.get('value'))} vs "
            f"threshold {_number(alert.get('threshold'))}) {state}"
        )
    details = payload.get("details") or {}
    shown = ", ".join(f"{k}={v}" for k, v in list(details.items())[:4]) if details else ""
    who = f" by {payload['actor']}" if payload.get("actor") else ""
    on = f" on {payload['subject']}" if payload.get("subject") else ""
    return f"{model}: {payload.get('event')}{who}{on}" + (f" ({shown})" if shown else "")


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else "n/a"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value: ``sha256=`` + hex HMAC-SHA256 of ``"{timestamp}.{body}"``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class MemorySink:
    """Keeps every payload in ``payloads``; for tests and for embedding Keel in other programs."""

    def __init__(self, name: str = "memory") -> None:
        self.name = name
        self.payloads: list[dict[str, Any]] = []

    def send(self, payload: dict[str, Any]) -> None:
        self.payloads.append(payload)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"MemorySink(name={self.name!r}, payloads={len(self.payloads)})"


class LogSink:
    """Logs a one-line summary on the ``keel.alerts`` logger (critical alerts at ERROR level)."""

    def __init__(self, name: str = "log", log: logging.Logger | None = None) -> None:
        self.name = name
        self._log = log or logger

    def send(self, payload: dict[str, Any]) -> None:
        alert = payload.get("alert")
        level = logging.INFO
        if isinstance(alert, Mapping) and payload.get("event") != "alert.resolved":
            level = logging.ERROR if alert.get("severity") == "critical" else logging.WARNING
        self._log.log(level, "%s", summarize(payload), extra={"keel_payload": payload})

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"LogSink(name={self.name!r})"


class FileSink:
    """Appends one JSON line per payload; flushed and fsynced so a delivered line survives a crash
    (the outbox marks it sent right after)."""

    def __init__(self, path: str | os.PathLike[str], name: str | None = None) -> None:
        self.path = Path(path).expanduser()
        self.name = name or f"file:{self.path}"

    def send(self, payload: dict[str, Any]) -> None:
        line = orjson.dumps(payload, default=str) + b"\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise DeliveryFailed(self.name, 1, f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"FileSink(path={str(self.path)!r}, name={self.name!r})"


#: statuses worth trying again: the receiver is overloaded or broken right now, not refusing us
_RETRYABLE = {429, 500, 502, 503, 504}


class WebhookSink:
    """POSTs each payload as JSON, signed when a secret is set, with bounded retries.

    Connection errors, timeouts, 429 and 5xx are retried ``retries`` times with exponential
    back-off and jitter (so many Keel processes do not hammer a recovering receiver in step); a
    ``Retry-After`` header is honoured up to ``max_retry_after_s``. Other 4xx answers mean the
    receiver refuses the payload and would refuse it again: they fail at once.
    """

    def __init__(
        self,
        url: str,
        secret: str | None = None,
        *,
        retries: int = 3,
        timeout_s: float = 5.0,
        backoff_s: float = 0.5,
        max_retry_after_s: float = 60.0,
        name: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidInput("url", "a webhook needs an http(s) url")
        if retries < 0:
            raise InvalidInput("retries", "must be zero or more")
        if timeout_s <= 0:
            raise InvalidInput("timeout_s", "must be longer than zero")
        self.url = url
        self.name = name or _url_label("webhook", url)
        self.retries = retries
        self.backoff_s = max(backoff_s, 0.0)
        self.max_retry_after_s = max(max_retry_after_s, 0.0)
        self._secret = secret or None
        import httpx  # only webhook users pay for importing it

        self._http = httpx.Client(timeout=timeout_s, transport=transport, follow_redirects=False)

    def body(self, payload: dict[str, Any]) -> dict[str, Any]:
        """What is posted; Slack and other formats override this."""
        return payload

    def send(self, payload: dict[str, Any]) -> None:
        import httpx

        body = orjson.dumps(self.body(payload), default=str)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "keel-alerts",
            "X-Keel-Event": str(payload.get("event", "")),
            "X-Keel-Delivery": str(payload.get("delivery", "")),
        }
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            timestamp = str(int(time.time()))
            headers["X-Keel-Timestamp"] = timestamp
            if self._secret is not None:
                headers["X-Keel-Signature"] = sign(self._secret, timestamp, body)
            wait: float | None = None
            try:
                response = self._http.post(self.url, content=body, headers=headers)
            except httpx.TimeoutException as exc:
                reason = f"timed out after {self._http.timeout.read}s ({type(exc).__name__})"
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return
                reason = f"HTTP {response.status_code}"
                if response.status_code not in _RETRYABLE:
                    raise DeliveryFailed(self.name, attempt, f"{reason} (not retried)")
                wait = _retry_after(response.headers.get("Retry-After"))
            if attempt == attempts:
                raise DeliveryFailed(self.name, attempt, reason)
            time.sleep(self._delay(attempt, wait))
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential back-off with equal jitter; a Retry-After (capped) can only lengthen it."""
        base = self.backoff_s * 2 ** (attempt - 1)
        delay = base / 2 + random.uniform(0, base / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after_s))
        return delay

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WebhookSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never the secret, nor the url (Slack urls are credentials)
        signed = ", signed" if self._secret else ""
        return f"{type(self).__name__}(name={self.name!r}{signed})"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when unreadable."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


class SlackSink(WebhookSink):
    """Posts to a Slack-compatible incoming webhook: a one-line ``text`` plus Block Kit blocks."""

    def __init__(self, url: str, secret: str | None = None, **options: Any) -> None:
        options.setdefault("name", _url_label("slack", url))
        super().__init__(url, secret, **options)

    def body(self, payload: dict[str, Any]) -> dict[str, Any]:
        line = _slack_escape(summarize(payload))
        context = [f"event `{payload.get('event')}`", f"delivery {payload.get('delivery')}"]
        if payload.get("at"):
            context.append(str(payload["at"]))
        alert = payload.get("alert")
        if isinstance(alert, Mapping) and alert.get("message"):
            context.append(_slack_escape(str(alert["message"])))
        return {
            "text": line,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": line}},
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": " | ".join(context)}],
                },
            ],
        }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _url_label(kind: str, url: str) -> str:
    """A stable sink name that does not reveal the url's path (Slack puts its token there)."""
    host = urlsplit(url).hostname or "?"
    return f"{kind}:{host}#{hashlib.sha256(url.encode()).hexdigest()[:8]}"


def _name_of(spec: Sink) -> str:
    if spec.name:
        return spec.name
    if spec.type in ("webhook", "slack") and spec.url:
        return _url_label(spec.type, spec.url)
    return spec.label


def build_sinks(specs: list[Sink], environ: Mapping[str, str]) -> list[AlertSink]:
    """Sinks for a policy's ``monitoring.sinks``; secrets are read from ``environ`` here, at the
    edge, by the name the policy gives (the policy itself never holds a secret)."""
    built: list[AlertSink] = []
    names: set[str] = set()
    try:
        for index, spec in enumerate(specs):
            field = f"monitoring.sinks[{index}]"
            name = _name_of(spec)
            if name in names:
                raise InvalidInput(
                    f"{field}.name", f"two sinks are named {name!r}; give them distinct names"
                )
            names.add(name)
            built.append(_build(spec, name, field, environ))
    except BaseException:
        for sink in built:
            sink.close()
        raise
    return built


def _build(spec: Sink, name: str, field: str, environ: Mapping[str, str]) -> AlertSink:
    if spec.type == "log":
        return LogSink(name)
    if spec.type == "file":
        assert spec.path is not None  # the policy validates it
        return FileSink(spec.path, name)
    assert spec.url is not None
    secret = None
    if spec.secret_env:
        secret = environ.get(spec.secret_env)
        if not secret:
            raise InvalidInput(
                f"{field}.secret_env",
                f"the environment variable {spec.secret_env} holding the secret of sink "
                f"{name!r} is not set",
            )
    options: dict[str, Any] = {"retries": spec.retries, "timeout_s": spec.timeout_s, "name": name}
    if spec.type == "slack":
        return SlackSink(spec.url, secret, **options)
    return WebhookSink(spec.url, secret, **options)
