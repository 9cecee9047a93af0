"""A fake message provider on loopback that honours idempotency keys, as invariant 5 asks of a provider.

A request under a key it already accepted is answered as the first one was and sends nothing: a delivery
that crashed after the provider accepted its send, before the outcome was stored, is bound to send again.
It records which message (run, node, visit) each key carried, so a resend under a *new* key, which a real
provider would send twice, is caught. It can be told to fail or hang.
"""

from __future__ import annotations

import collections
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from faults.config import HOST, PROVIDER_HANG_SECONDS, PROVIDER_PORT

Mode = Literal["accept", "fail", "hang"]


@dataclass(frozen=True)
class Answer:
    key: str
    message: tuple[str, str, int]  # run id, node id, visit
    status: int


class Provider:
    """`mode`: accept (200), fail (500) or hang (wait past the delivery lease, then 200)."""

    def __init__(self) -> None:
        self.mode: Mode = "accept"
        self.url = ""
        self._answers: list[Answer] = []
        self._lock = threading.Lock()

    def record(self, answer: Answer) -> None:
        with self._lock:
            self._answers.append(answer)

    def messages_under_several_keys(self) -> dict[tuple[str, str, int], int]:
        """Messages accepted under more than one key: a provider honouring keys would send those twice."""
        with self._lock:
            keys = collections.defaultdict(set)
            for answer in self._answers:
                if answer.status < 300:
                    keys[answer.message].add(answer.key)
        return {message: len(found) for message, found in keys.items() if len(found) > 1}

    def resends(self) -> int:
        """Requests answered from an earlier acceptance of their key (sent nothing): at-least-once at work."""
        with self._lock:
            accepted: set[str] = set()
            repeats = 0
            for answer in self._answers:
                if answer.status < 300:
                    repeats += answer.key in accepted
                    accepted.add(answer.key)
            return repeats

    def requests(self) -> int:
        with self._lock:
            return len(self._answers)


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            sent = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            message = (str(sent.get("runId")), str(sent.get("nodeId")), int(sent.get("visit") or 0))
            key = self.headers.get("Idempotency-Key") or "(none)"
            mode = provider.mode
            if mode == "hang":
                time.sleep(PROVIDER_HANG_SECONDS)
            status = 500 if mode == "fail" else 200
            body = f'{{"id": "provider-{time.monotonic_ns()}"}}'.encode()
            # Recorded before the answer goes out: what the provider accepted counts, whether or not the
            # client is still there to read the answer (and a client's next request sees it recorded).
            provider.record(Answer(key, message, status))
            with contextlib.suppress(OSError):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def running_provider(port: int = PROVIDER_PORT) -> Iterator[Provider]:
    provider = Provider()
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((HOST, port), _handler(provider))
    provider.url = f"http://{HOST}:{server.server_address[1]}/messages"
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
