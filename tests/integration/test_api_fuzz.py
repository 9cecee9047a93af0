"""Fuzz every operation of the OpenAPI document (schemathesis): never a 5xx, every response as documented.

The app runs under uvicorn on a loopback port over this test's own database and topics; schemathesis
sends valid and invalid requests from a worker thread with a fixed seed, with a key carrying every scope
(so the 401/403 answers are the auth test's to check, not this one's). PJS_FUZZ_EXAMPLES (default 25
per operation and mode) makes the run longer, as `make fuzz` does.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
import uvicorn
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.examples import SEED_JOURNEY, SEED_PATIENT
from pjs.settings import Settings
from pjs.wiring import api_resources
from support.auth import bearer

EXAMPLES = int(os.environ.get("PJS_FUZZ_EXAMPLES", "25"))
SEED = 20_261_129
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
async def base_url(settings: Settings) -> AsyncIterator[str]:
    """The app served by uvicorn on a free loopback port, for as long as the test runs."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    # A rate limit far above what one sequential client sends, so every generated case reaches the route.
    unthrottled = settings.model_copy(update={"rate_limit_per_second": 100_000, "rate_limit_burst": 100_000})
    app = create_app(api_resources(unthrottled))
    config = uvicorn.Config(app, log_level="critical", access_log=False)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    async with asyncio.timeout(120):
        while not server.started:
            if serving.done():  # uvicorn gave up starting: fail now, not at the test's 1800 s timeout
                await serving  # re-raises what stopped it, if anything raised
                raise RuntimeError("uvicorn stopped before it started serving (its lifespan start-up failed)")
            await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    server.should_exit = True
    await serving


async def seed(base_url: str, key: str) -> dict[str, str]:
    """A journey and a run that exist, so fuzzed ids sometimes name real resources."""
    async with httpx.AsyncClient(base_url=base_url, headers=bearer(key)) as client:
        journey_id = (await client.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
        run_id = (await client.post(f"/journeys/{journey_id}/trigger", json=SEED_PATIENT)).json()["runId"]
    return {"journeyId": journey_id, "runId": run_id}


def fuzz(base_url: str, key: str, known: dict[str, str]) -> tuple[dict[str, Counter[int]], list[str]]:
    """The status codes answered and the failures found, per operation (at most one each: no shrinking)."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    statuses: dict[str, Counter[int]] = {}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        statuses[label] = Counter()
        try:
            _fuzz_operation(operation, label, base_url, key, known, statuses)
        # schemathesis raises its FailureGroup, a BaseExceptionGroup: every operation's is reported.
        except (Exception, BaseExceptionGroup) as failure:
            causes = failure.exceptions if isinstance(failure, BaseExceptionGroup) else (failure,)
            failures.extend(f"{label}: {type(cause).__name__}: {cause}" for cause in causes)
    return statuses, failures


def _fuzz_operation(
    operation: Any,
    label: str,
    base_url: str,
    key: str,
    known: dict[str, str],
    statuses: dict[str, Counter[int]],
) -> None:
    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=EXAMPLES * 2,
        deadline=None,
        database=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=_cases(operation, known))
    def check(case: Any) -> None:
        response = case.call_and_validate(base_url=base_url, headers=bearer(key), checks=CHECKS, timeout=30)
        statuses[label][response.status_code] += 1

    check()


def _cases(operation: Any, known: dict[str, str]) -> st.SearchStrategy[Any]:
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    names = {parameter.name for parameter in operation.path_parameters}
    if names and names <= set(known):
        real = {name: known[name] for name in names}
        strategies.append(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=real)
        )
    return st.one_of(strategies)


@pytest.mark.timeout(1800)
async def test_no_operation_answers_a_fuzzed_request_with_a_5xx_or_an_undocumented_response(
    base_url: str, api_key: str
) -> None:
    known = await seed(base_url, api_key)
    started = time.monotonic()

    statuses, failures = await asyncio.to_thread(fuzz, base_url, api_key, known)

    elapsed = time.monotonic() - started
    requests = sum(sum(answered.values()) for answered in statuses.values())
    print(f"\nfuzzed {len(statuses)} operations, {requests} requests in {elapsed:.0f}s (seed {SEED})")
    for label, answered in statuses.items():
        print(f"  {label}: {dict(sorted(answered.items()))}")
    assert len(statuses) >= 13
    assert failures == [], "\n".join(failures)
