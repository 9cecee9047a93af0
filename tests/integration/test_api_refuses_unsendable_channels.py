"""On the real API: a journey whose MESSAGE names sms, email or webhook while the API's settings give that
channel no endpoint is a 400 naming the node, the channel and the setting, on create and on a new
version, and nothing is saved; with the endpoint set, or with no channel named, it is saved."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from api.examples import CLINIC_JOURNEY, SEED_JOURNEY
from support.stored import journey_versions_in_store


def sending_by(channel: str) -> dict[str, Any]:
    return {
        "name": f"Reminder by {channel}",
        "start_node_id": "reminder",
        "nodes": [{"id": "reminder", "type": "MESSAGE", "message": "See you tomorrow.", "channel": channel}],
    }


def channel_problem(response: httpx.Response) -> tuple[str, str]:
    assert response.status_code == 400, response.text
    [problem] = response.json()["problems"]
    return problem["path"], problem["message"]


@pytest.mark.parametrize(
    ("channel", "setting"),
    [("sms", "PJS_SMS_URL"), ("email", "PJS_SMTP_HOST"), ("webhook", "PJS_WEBHOOK_URL")],
)
async def test_a_journey_sending_by_a_channel_the_api_cannot_send_is_refused_naming_node_and_setting(
    api: httpx.AsyncClient, pool: asyncpg.Pool, channel: str, setting: str
) -> None:
    path, message = channel_problem(await api.post("/journeys", json=sending_by(channel)))

    assert path == "nodes[0].channel"
    assert "'reminder'" in message and channel in message and setting in message
    assert await journey_versions_in_store(pool) == 0


async def test_a_new_version_naming_an_unsendable_channel_is_refused_and_the_journey_keeps_its_version(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
    edited = {
        **SEED_JOURNEY,
        "nodes": [{**SEED_JOURNEY["nodes"][0], "channel": "sms"}, *SEED_JOURNEY["nodes"][1:]],
    }

    path, message = channel_problem(await api.put(f"/journeys/{journey_id}", json=edited))

    assert path == "nodes[0].channel" and "PJS_SMS_URL" in message
    assert await journey_versions_in_store(pool) == 1


async def test_the_seed_journey_and_a_log_message_are_saved_by_an_api_with_no_channel_configured(
    api: httpx.AsyncClient,
) -> None:
    seed = await api.post("/journeys", json=SEED_JOURNEY)
    logged = await api.post("/journeys", json=sending_by("log"))

    assert (seed.status_code, logged.status_code) == (201, 201), (seed.text, logged.text)


async def test_an_api_with_the_channels_configured_saves_a_journey_sending_by_them(
    messaging_api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    response = await messaging_api.post("/journeys", json=CLINIC_JOURNEY)

    assert response.status_code == 201, response.text
    assert await journey_versions_in_store(pool) == 1
