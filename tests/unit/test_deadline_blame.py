"""At the request deadline: a route still waiting for its body is the client's fault (408); a route stuck
with its body in hand, or before reading it, is the service's (503)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import orjson
from starlette.types import Message, Receive, Scope, Send

from api.deadline import RequestDeadline

SCOPE: Scope = {"type": "http", "method": "POST", "path": "/x", "headers": [(b"content-length", b"20")]}
Route = Callable[[Scope, Receive, Send], Awaitable[None]]


async def answer(route: Route, *chunks: bytes) -> list[Message]:
    """What the middleware sends, given a client that sends `chunks` (the last one completes the body
    unless it is the only, open-ended one) and then never sends more."""
    pending = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1 or chunk == b"partial"}
        for index, chunk in enumerate(chunks)
    ]

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        await asyncio.Event().wait()  # the client stalls
        raise AssertionError("unreachable")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await RequestDeadline(route, seconds=0.05)(SCOPE, receive, send)
    return sent


async def reads_the_body(scope: Scope, receive: Receive, send: Send) -> None:
    while (await receive()).get("more_body", False):
        pass
    await asyncio.sleep(10)  # then the database hangs


async def hangs_before_reading(scope: Scope, receive: Receive, send: Send) -> None:
    await asyncio.sleep(10)


def status_and_message(sent: list[Message]) -> tuple[int, str]:
    start, content = sent[0], sent[1]
    return start["status"], orjson.loads(content["body"])["message"]


async def test_a_body_that_stops_arriving_is_answered_408_saying_so() -> None:
    status, message = status_and_message(await answer(reads_the_body, b"partial"))

    assert status == 408
    assert message.startswith("The request body did not arrive within 0.05 s (PJS_API_REQUEST_SECONDS)")


async def test_the_408_closes_the_connection_since_the_rest_of_the_body_may_still_come() -> None:
    sent = await answer(reads_the_body, b"partial")

    assert (b"connection", b"close") in sent[0]["headers"]


async def test_a_route_stuck_after_the_whole_body_arrived_is_still_a_503() -> None:
    status, message = status_and_message(await answer(reads_the_body, b'{"id": ', b'"p-1"}'))

    assert status == 503
    assert "did not answer within" in message


async def test_a_route_stuck_before_reading_its_body_is_the_services_fault_503() -> None:
    status, _ = status_and_message(await answer(hangs_before_reading, b"partial"))

    assert status == 503
