"""A stand-in for the outside world: a real HTTP server on 127.0.0.1 that answers from a script."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from support.loopback_server import StandInHandler, serving


@dataclass(frozen=True)
class Received:
    idempotency_key: str | None
    body: dict[str, Any]
    at: float  # time.monotonic()


class ScriptedWebhook:
    """Answers each POST with the next status in `statuses` (the last one repeats), and records it."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self.url = ""

    def answer(self, key: str | None, body: dict[str, Any]) -> int:
        with self._lock:
            self.received.append(Received(key, body, time.monotonic()))
            return self.statuses[min(len(self.received), len(self.statuses)) - 1]

    def keys_sent_successfully(self) -> list[str | None]:
        with self._lock:
            return [r.idempotency_key for i, r in enumerate(self.received) if self._status(i) < 300]

    def _status(self, index: int) -> int:
        return self.statuses[min(index, len(self.statuses) - 1)]


def numbered(webhook: ScriptedWebhook, body: dict[str, Any]) -> object:
    """The provider's id for its answer: provider-1, provider-2, ..."""
    return f"provider-{len(webhook.received)}"


@contextmanager
def scripted_webhook(
    statuses: list[int], ids: Callable[[ScriptedWebhook, dict[str, Any]], object] = numbered
) -> Iterator[ScriptedWebhook]:
    """A provider answering `statuses` in turn, with the id `ids` gives for each request."""
    webhook = ScriptedWebhook(statuses)

    class Handler(StandInHandler):
        def do_POST(self) -> None:
            body = json.loads(self.request_body() or b"{}")
            status = webhook.answer(self.headers.get("Idempotency-Key"), body)
            # a redirect names where to, as a real one would
            location = {"Location": "/messages-elsewhere"} if 300 <= status < 400 else {}
            self.answer_json(status, {"id": ids(webhook, body)}, location)

    with serving(Handler) as base_url:
        webhook.url = f"{base_url}/messages"
        yield webhook
