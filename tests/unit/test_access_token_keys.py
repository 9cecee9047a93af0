"""The identity provider's keys as the API keeps them, and the claims and tokens it reads.

The provider is the outside world here: a fake fetch answers with documents the test makes, and a fake
clock moves time on. The settings that name the provider: tests/unit/test_identity_provider_settings.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from api.bearer_tokens import looks_like_a_token, scopes_in
from api.jwks import KeySetUnavailable, RemoteKeySet, key_for_algorithm, signing_keys
from support.identity_provider import ec_key, rsa_key

FIRST = rsa_key("first")
SECOND = ec_key("second")


class Provider:
    """Answers fetches with the keys it publishes now, or fails while `down`."""

    def __init__(self, *keys: object) -> None:
        self.published = list(keys)
        self.fetches = 0
        self.down = False

    async def fetch(self, url: str) -> bytes:
        self.fetches += 1
        await asyncio.sleep(0)
        if self.down:
            raise ConnectionError("the provider is down")
        return orjson.dumps({"keys": [key.public_jwk() for key in self.published]})  # type: ignore[attr-defined]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _key_set(provider: Provider, clock: Clock) -> RemoteKeySet:
    return RemoteKeySet(
        "https://idp.example/jwks",
        cache_seconds=300,
        min_refetch_seconds=30,
        max_stale_seconds=3600,
        fetch=provider.fetch,
        clock=clock,
    )


def _ids(found: list[dict[str, Any] | None]) -> list[str | None]:
    return [None if key is None else key["kid"] for key in found]


async def test_keys_are_fetched_once_for_many_tokens() -> None:
    provider = Provider(FIRST, SECOND)
    keys = _key_set(provider, Clock())

    found = [await keys.key_for("first"), await keys.key_for("second"), await keys.key_for("first")]

    assert _ids(found) == ["first", "second", "first"]
    assert provider.fetches == 1


async def test_after_the_cache_time_old_keys_serve_at_once_while_new_ones_are_fetched_behind() -> None:
    provider, clock = Provider(FIRST), Clock()
    keys = _key_set(provider, clock)
    await keys.key_for("first")
    provider.published = [SECOND]
    clock.now += 301

    served_meanwhile = await keys.key_for("first")
    await keys.refreshed()

    assert _ids([served_meanwhile]) == ["first"]
    assert _ids([await keys.key_for("second")]) == ["second"]
    assert provider.fetches == 2


async def test_concurrent_requests_share_one_fetch() -> None:
    provider = Provider(FIRST)
    keys = _key_set(provider, Clock())

    found = await asyncio.gather(*(keys.key_for("first") for _ in range(20)))

    assert _ids(list(found)) == ["first"] * 20
    assert provider.fetches == 1


async def test_an_unknown_key_id_fetches_again_at_most_once_per_window() -> None:
    provider, clock = Provider(FIRST), Clock()
    keys = _key_set(provider, clock)
    await keys.key_for("first")
    provider.published.append(SECOND)

    within_window = await keys.key_for("second")
    clock.now += 31
    after_window = await keys.key_for("second")
    made_up = [await keys.key_for(f"made-up-{n}") for n in range(10)]

    assert _ids([within_window, after_window]) == [None, "second"]
    assert made_up == [None] * 10
    assert provider.fetches == 2


async def test_an_outage_keeps_the_old_keys_for_the_stale_time_fetching_once_per_window() -> None:
    provider, clock = Provider(FIRST), Clock()
    keys = _key_set(provider, clock)
    await keys.key_for("first")
    provider.down = True
    clock.now += 301

    during_outage = []
    for _ in range(10):
        during_outage.append(await keys.key_for("first"))
        await keys.refreshed()
    clock.now += 3600

    assert _ids(during_outage) == ["first"] * 10
    assert provider.fetches == 2
    with pytest.raises(KeySetUnavailable):  # over an hour past their cache time: not trusted any more
        await keys.key_for("first")


async def test_a_key_set_with_no_usable_key_is_a_failed_fetch_and_the_old_keys_stay() -> None:
    provider, clock = Provider(FIRST), Clock()
    keys = _key_set(provider, clock)
    await keys.key_for("first")
    provider.published = []
    clock.now += 301

    await keys.key_for("first")
    await keys.refreshed()

    assert _ids([await keys.key_for("first")]) == ["first"]
    assert provider.fetches == 2


async def test_a_request_that_gives_up_waiting_does_not_cut_the_fetch_short() -> None:
    provider, release = Provider(FIRST), asyncio.Event()
    slow_fetch = provider.fetch

    async def fetch_when_released(url: str) -> bytes:
        await release.wait()
        return await slow_fetch(url)

    keys = RemoteKeySet("https://idp.example/jwks", fetch=fetch_when_released, clock=Clock())
    impatient = asyncio.create_task(keys.key_for("first"))
    await asyncio.sleep(0)
    impatient.cancel()
    release.set()
    await keys.refreshed()

    assert _ids([await keys.key_for("first")]) == ["first"]
    assert provider.fetches == 1


async def test_with_no_keys_ever_fetched_an_outage_is_key_set_unavailable_retried_after_the_window() -> None:
    provider, clock = Provider(FIRST), Clock()
    provider.down = True
    keys = _key_set(provider, clock)

    for _ in range(3):
        with pytest.raises(KeySetUnavailable):
            await keys.key_for("first")
    provider.down = False
    clock.now += 31
    recovered = await keys.key_for("first")

    assert _ids([recovered]) == ["first"]
    assert provider.fetches == 2


def test_only_signing_keys_of_usable_types_are_kept() -> None:
    document = {
        "keys": [
            {**FIRST.public_jwk(), "use": "enc"},
            SECOND.public_jwk(),
            {"kty": "unknown-type", "kid": "odd"},
            {"kty": "oct", "kid": "shared", "k": "c2VjcmV0"},
            {**FIRST.public_jwk(), "kid": 5},
            {**FIRST.public_jwk(), "kid": "alg-list", "alg": ["RS256"]},
            {**FIRST.public_jwk(), "kid": "alg-none", "alg": "none"},
            "not an object",
        ]
    }

    assert list(signing_keys(orjson.dumps(document))) == ["second"]


@pytest.mark.parametrize("document", [b"[]", b'{"keys": 3}', b"not json"])
def test_a_document_without_a_key_list_is_refused(document: bytes) -> None:
    with pytest.raises(ValueError):
        signing_keys(document)


def test_a_key_naming_no_algorithm_takes_the_tokens_and_one_naming_its_own_keeps_it() -> None:
    unnamed = {key: value for key, value in FIRST.public_jwk().items() if key != "alg"}

    assert key_for_algorithm(unnamed, "PS256").algorithm_name == "PS256"
    assert key_for_algorithm(FIRST.public_jwk(), "PS256").algorithm_name == "RS256"


def test_scopes_come_from_a_space_separated_string_or_a_list_of_strings() -> None:
    assert scopes_in("runs:read  runs:trigger") == ["runs:read", "runs:trigger"]
    assert scopes_in(["runs:read", 7, "audit:read"]) == ["runs:read", "audit:read"]
    assert scopes_in(None) == [] and scopes_in({"runs:read": True}) == []


def test_a_token_is_three_dot_separated_parts_of_bounded_length() -> None:
    assert looks_like_a_token("a.b.c")
    assert not looks_like_a_token("pjs_live_0123456789abcdef_secret")
    assert not looks_like_a_token("a.b.c." + "x" * 9000)
    assert not looks_like_a_token("a." * 4000 + "b")
