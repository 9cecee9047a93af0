"""An ASGI `send` that notes the answer's status as it starts: for middleware that must know whether an
answer is already out (half an answer cannot be replaced by another) or which status it had."""

from __future__ import annotations

from starlette.types import Message, Send


class NotedSend:
    """Passes every message on to `send`; `status` is the answer's once its head went out, else None."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status: int | None = None

    @property
    def started(self) -> bool:
        return self.status is not None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)
