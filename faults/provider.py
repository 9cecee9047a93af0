"""A fake message provider on loopback: records every request's idempotency key, and can be told to fail."""

from __future__ import annotations

import collections
import contextlib
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
    status: int
    answered: bool  # the client was still there to read the answer


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

    def accepted_twice(self) -> dict[str, int]:
        """Idempotency keys the provider accepted (2xx, answer delivered) more than once, with the count."""
        with self._lock:
            counts = collections.Counter(a.key for a in self._answers if a.status < 300 and a.answered)
        return {key: count for key, count in counts.items() if count > 1}

    def requests(self) -> int:
        with self._lock:
            return len(self._answers)


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            key = self.headers.get("Idempotency-Key") or "(none)"
            mode = provider.mode
            if mode == "hang":
                time.sleep(PROVIDER_HANG_SECONDS)
            status = 500 if mode == "fail" else 200
            body = f'{{"id": "provider-{time.monotonic_ns()}"}}'.encode()
            answered = True
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
            except OSError:
                answered = False
            provider.record(Answer(key, status, answered))

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
