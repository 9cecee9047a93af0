"""Every operation but /health answers only a valid key with its scope: the 401/403 matrix, revocation,
keys kept out of responses and logs, the per-key rate limit, and the ops probes off loopback.

The operations come from the app's own OpenAPI document, so a new route cannot escape the matrix.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.api_keys import Scope, parse_key
from api.app import create_app
from pjs.settings import Settings
from pjs.wiring import api_resources
from support.api import app_client
from support.auth import bearer, issue_test_key, refused_within, revoke_test_key, secret_of
from support.windows import clear_of_a_windows_end


def _operations() -> list[tuple[str, str, tuple[str, ...]]]:
    """(method, path, scopes) of every operation in the document; the document needs no database."""
    document = create_app(api_resources(Settings())).openapi()
    return [
        (method.upper(), path, tuple(operation.get("x-scopes", ())))
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


OPERATIONS = _operations()
OPEN = {"/health"}
SIGNED_BY_PROVIDERS = {"/deliveries/{deliveryId}/receipts"}  # an HMAC of the body, not an API key
SECURED = [
    (method, path, scopes) for method, path, scopes in OPERATIONS if path not in OPEN | SIGNED_BY_PROVIDERS
]
PROBES = {"/ready", "/metrics"}
BEARER_CHALLENGE = 'Bearer realm="pjs"'
INVALID_TOKEN = 'Bearer realm="pjs", error="invalid_token"'


def _ids(operation: tuple[str, str, tuple[str, ...]]) -> str:
    return f"{operation[0]} {operation[1]}"


@pytest.fixture
async def keyless(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends no key of its own, from a non-loopback address (so the probes need one too)."""
    async with app_client(settings, None, client=("203.0.113.7", 40000)) as (client, _):
        yield client


async def call(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    concrete = (
        path.replace("{journeyId}", str(uuid.uuid4()))
        .replace("{runId}", str(uuid.uuid4()))
        .replace("{patientId}", "p-unknown")
    )
    body: Any = {} if method in ("POST", "PUT") else None
    return await client.request(method, concrete, json=body, headers=headers)


def test_every_operation_but_health_and_provider_receipts_names_its_scope() -> None:
    assert len(OPERATIONS) >= 16
    assert {path for _, path, scopes in OPERATIONS if not scopes} == OPEN | SIGNED_BY_PROVIDERS
    used = {scope for _, _, scopes in OPERATIONS for scope in scopes}
    assert used == {scope.value for scope in Scope}


@pytest.mark.parametrize("operation", SECURED, ids=_ids)
async def test_without_a_key_every_operation_is_401_with_a_bearer_challenge(
    keyless: httpx.AsyncClient, operation: tuple[str, str, tuple[str, ...]]
) -> None:
    method, path, _ = operation

    response = await call(keyless, method, path)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == BEARER_CHALLENGE
    assert "Authorization: Bearer" in response.json()["message"]


@pytest.mark.parametrize("operation", SECURED, ids=_ids)
async def test_a_malformed_unknown_or_revoked_key_is_401_invalid_token(
    keyless: httpx.AsyncClient, settings: Settings, operation: tuple[str, str, tuple[str, ...]]
) -> None:
    method, path, _ = operation
    key = await issue_test_key(settings.resolved_migration_database_url())
    revoked = await issue_test_key(settings.resolved_migration_database_url())
    await revoke_test_key(settings.resolved_migration_database_url(), revoked)
    wrong_secret = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    unknown = f"pjs_live_{'0' * 16}_{'x' * 43}"

    for header in (f"Basic {key}", "Bearer", "Bearer not-a-key", wrong_secret, unknown, revoked):
        value = header if header.split(" ")[0] in ("Basic", "Bearer") else f"Bearer {header}"
        response = await call(keyless, method, path, {"Authorization": value})

        assert response.status_code == 401, header
        assert response.headers["WWW-Authenticate"] == INVALID_TOKEN
        assert key not in response.text and revoked not in response.text


@pytest.mark.parametrize("operation", SECURED, ids=_ids)
async def test_only_a_key_with_the_operations_scope_gets_past_403(
    keyless: httpx.AsyncClient, settings: Settings, operation: tuple[str, str, tuple[str, ...]]
) -> None:
    method, path, scopes = operation
    (needed,) = scopes

    for scope in Scope:
        key = await issue_test_key(settings.resolved_migration_database_url(), [scope])
        response = await call(keyless, method, path, bearer(key))

        if scope.value == needed:
            assert response.status_code not in (401, 403), scope
        else:
            assert response.status_code == 403, scope
            assert needed in response.json()["message"]


@pytest.mark.parametrize("path", sorted(PROBES))
async def test_the_probes_are_open_from_loopback_without_a_key(settings: Settings, path: str) -> None:
    async with app_client(settings, None) as (loopback, _):
        response = await loopback.get(path)

    assert response.status_code == 200


@pytest.mark.parametrize("path", sorted(PROBES))
async def test_with_loopback_trust_off_the_probes_need_an_admin_key_even_from_loopback(
    settings: Settings, path: str
) -> None:
    behind_a_local_proxy = settings.model_copy(update={"probes_open_from_loopback": False})
    admin = await issue_test_key(settings.resolved_migration_database_url(), [Scope.ADMIN])
    reader = await issue_test_key(settings.resolved_migration_database_url(), [Scope.RUNS_READ])
    async with app_client(behind_a_local_proxy, None) as (loopback, _):
        keyless = await loopback.get(path)
        not_admin = await loopback.get(path, headers=bearer(reader))
        with_admin = await loopback.get(path, headers=bearer(admin))

    assert (keyless.status_code, not_admin.status_code, with_admin.status_code) == (401, 403, 200)


async def test_a_revoked_key_stops_working_within_a_second(
    api: httpx.AsyncClient, api_key: str, settings: Settings
) -> None:
    assert (await api.get("/journeys")).status_code == 200

    await revoke_test_key(settings.resolved_migration_database_url(), api_key)
    await refused_within(api)


async def test_a_key_never_appears_in_responses_or_logs(
    api: httpx.AsyncClient, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    journey = {"name": "j", "start_node_id": "a", "nodes": [{"id": "a", "type": "MESSAGE", "message": "hi"}]}

    answers = [
        await api.post("/journeys", json=journey),
        await api.get("/journeys"),
        await api.get("/journeys", headers={"Authorization": f"Bearer {api_key}x"}),
        await api.get("/audit"),
        await api.get("/openapi.json"),
    ]

    secret = secret_of(api_key)
    for response in answers:
        assert secret not in response.text
        assert all(secret not in value for value in response.headers.values())
    assert secret not in caplog.text


async def test_a_key_over_its_burst_is_429_with_retry_after(settings: Settings, api_key: str) -> None:
    # A 25 s window, the requests started 10 s or more before it ends: the limiter's windows are aligned to
    # the clock, and one straddled may let a request more through (tests/unit/test_rate_limit.py).
    strict = settings.model_copy(update={"rate_limit_per_second": 0.2, "rate_limit_burst": 5})
    async with app_client(strict, api_key) as (client, _):
        await clear_of_a_windows_end(25, needed_seconds=10)
        statuses = [(await client.get("/journeys")).status_code for _ in range(5)]
        beyond = [await client.get("/journeys") for _ in range(2)]
        other_key = await issue_test_key(settings.resolved_migration_database_url())
        other = await client.get("/journeys", headers=bearer(other_key))

    assert statuses == [200] * 5
    assert [response.status_code for response in beyond] == [429, 429]
    assert 1 <= int(beyond[-1].headers["Retry-After"]) <= 25
    assert other.status_code == 200  # the limit is per key


@pytest.mark.parametrize("path", sorted(PROBES))
async def test_the_probes_from_elsewhere_need_the_admin_scope(
    keyless: httpx.AsyncClient, settings: Settings, path: str
) -> None:
    runs_reader = await issue_test_key(settings.resolved_migration_database_url(), [Scope.RUNS_READ])
    admin = await issue_test_key(settings.resolved_migration_database_url(), [Scope.ADMIN])

    assert (await keyless.get(path)).status_code == 401
    assert (await keyless.get(path, headers=bearer(runs_reader))).status_code == 403
    assert (await keyless.get(path, headers=bearer(admin))).status_code == 200


async def test_an_unknown_host_header_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.get("/journeys", headers={"Host": "evil.example"})

    assert response.status_code == 400


async def test_cors_is_closed_unless_origins_are_configured(api: httpx.AsyncClient) -> None:
    preflight = await api.options(
        "/journeys", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    )

    assert "access-control-allow-origin" not in preflight.headers


async def test_the_audit_log_names_the_key_that_changed_a_journey(
    api: httpx.AsyncClient, api_key: str
) -> None:
    journey = {"name": "j", "start_node_id": "a", "nodes": [{"id": "a", "type": "MESSAGE", "message": "hi"}]}
    journey_id = (await api.post("/journeys", json=journey)).json()["journeyId"]

    entries = (await api.get("/audit")).json()["entries"]

    presented = parse_key(api_key)
    assert presented is not None
    created = [entry for entry in entries if entry["journeyId"] == journey_id]
    assert [entry["actor"] for entry in created] == [f"key:{presented.key_id}"]
