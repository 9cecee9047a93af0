"""`python -m bench.loadgen`: trigger runs over HTTP at a fixed offered rate (open loop), a line per request.

A separate process from the service and from the scenario, so its CPU use shows as its own and the
service is measured the way a client sees it. Open loop: request i is due at `start + i / rate`,
whatever happened to earlier requests (a slow response never delays the next send). Latency is taken
from the *due* time, not the moment the request got a connection, so a generator or server that falls
behind shows up as latency instead of silently lowering the offered rate (coordinated omission).

A 503 (the API found no database connection free in time, or its request deadline passed) is retried
with the same Idempotency-Key after its Retry-After, as a well-behaved client does, until `--max-seconds`;
the wait counts as latency and every such answer is counted (`refused`), so saturation shows.

Output (JSON lines, `--out`): {"i", "due": wall-clock epoch seconds, "ms": trigger latency, "status",
"run_id", "error", "refused": 503s before the final answer}; status 0 means a transport error on every
attempt (the last one named in "error").
The last line is {"summary": {...}}; the summary alone also goes to stdout. The API key comes from
PJS_API_KEY in the environment.
Bounded: exactly `--runs` requests, and everything still in flight at `--max-seconds` is abandoned.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import orjson

from bench.trigger_client import TransportError, post_json, require_loopback, trigger_session

_ATTEMPTS = 3  # transport errors per request; 503s are retried until the deadline instead
_RETRY_AFTER_SECONDS = 1.0  # when a 503 names no Retry-After
_CONNECTIONS = 64  # past this many in flight, due requests queue and their wait counts as latency


API_KEY_VARIABLE = "PJS_API_KEY"
"""The environment variable the generator reads its API key from (never a command-line argument, which
every local user can read from the process list)."""


def _key(number: int) -> str:
    """An idempotency key per request, so a retry after a transport error never starts a second run."""
    return f"bench-{number}"


def _patient(number: int) -> dict[str, Any]:
    """Ages 30..89, so both branches of the reference journey's condition are taken."""
    return {"id": f"bench-patient-{number:09d}", "age": 30 + number % 60, "language": "en"}


async def _trigger(session: aiohttp.ClientSession, path: str, number: int, deadline: float) -> dict[str, Any]:
    """One trigger to its final answer: transport errors retried `_ATTEMPTS` times, 503s until `deadline`."""
    status, run_id, error, refused, attempts = 0, None, None, 0, 0
    while attempts < _ATTEMPTS:
        try:
            answer = await post_json(session, path, _patient(number), _key(number))
        except TransportError as failure:  # e.g. the server closed an idle keep-alive
            error, attempts = type(failure).__name__, attempts + 1
            continue
        status = answer.status
        pause = float(answer.retry_after or _RETRY_AFTER_SECONDS)
        if status == 503 and time.perf_counter() + pause < deadline:
            refused += 1
            await asyncio.sleep(pause)
            continue
        run_id = answer.json()["runId"] if status == 202 else None
        break
    return {"status": status, "run_id": run_id, "error": error, "refused": refused}


async def generate(
    base_url: str, journey_id: str, runs: int, rate: float, max_seconds: float, out: TextIO, first: int = 0
) -> dict[str, Any]:
    """Send `runs` triggers at `rate` per second, numbered from `first`; write one line per request;
    return a summary."""
    path = f"/journeys/{journey_id}/trigger"
    # Due requests wait in this FIFO for one of the connections, not inside the client's pool.
    due: asyncio.Queue[tuple[int, float, float] | None] = asyncio.Queue()
    start_perf, start_wall = time.perf_counter() + 0.05, time.time() + 0.05
    cpu_before = time.process_time()
    deadline = start_perf + max_seconds
    done = 0

    async def connection(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while (item := await due.get()) is not None:
            number, due_wall, due_perf = item
            answer = await _trigger(session, path, first + number, deadline)
            latency_ms = (time.perf_counter() - due_perf) * 1000
            line = {"i": first + number, "due": due_wall, "ms": round(latency_ms, 3), **answer}
            out.write(orjson.dumps(line).decode() + "\n")
            done += 1

    late_ms_max, sent = 0.0, 0
    api_key = os.environ[API_KEY_VARIABLE]
    async with trigger_session(base_url, api_key, _CONNECTIONS, max_seconds) as session:
        workers = [asyncio.create_task(connection(session)) for _ in range(_CONNECTIONS)]
        for number in range(runs):
            due_perf = start_perf + number / rate
            delay = due_perf - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            late_ms_max = max(late_ms_max, -delay * 1000)
            if time.perf_counter() > deadline:
                break
            due.put_nowait((number, start_wall + number / rate, due_perf))
            sent += 1
        sent_seconds = time.perf_counter() - start_perf
        for _ in workers:
            due.put_nowait(None)
        _, pending = await asyncio.wait(workers, timeout=max(deadline - time.perf_counter(), 0.1))
        for task in pending:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return {
        "sent": sent,
        "offered_rate_per_s": rate,
        "sent_rate_per_s": round(sent / sent_seconds, 1) if sent_seconds > 0 else 0.0,
        "send_late_ms_max": round(late_ms_max, 1),  # how far the generator itself fell behind its schedule
        "abandoned": sent - done,
        "cpu_s": round(time.process_time(), 1),  # the generator's own CPU, start-up included
        "load_cpu_s": round(time.process_time() - cpu_before, 3),  # its CPU while sending and awaiting
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:18000 (loopback only)")
    parser.add_argument("--journey", required=True, help="journey id to trigger")
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="offered triggers per second")
    parser.add_argument("--max-seconds", type=float, required=True, help="hard limit for the whole run")
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file of per-request results")
    parser.add_argument("--first", type=int, default=0, help="number of the first request (patient, key)")
    options = parser.parse_args(argv)
    try:
        require_loopback(options.base_url)
    except ValueError as refused:
        parser.error(str(refused))
    if options.runs < 1 or options.rate <= 0 or options.first < 0:
        parser.error("--runs and --rate must be positive, --first not negative")
    with options.out.open("w") as out:
        summary = asyncio.run(
            generate(
                options.base_url,
                options.journey,
                options.runs,
                options.rate,
                options.max_seconds,
                out,
                options.first,
            )
        )
        out.write(orjson.dumps({"summary": summary}).decode() + "\n")
    print(orjson.dumps(summary).decode(), file=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
