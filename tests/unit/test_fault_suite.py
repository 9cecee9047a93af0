"""The fault suite's own pieces: the load takes both branches, the provider counts repeated acceptances."""

from __future__ import annotations

import httpx
from faults.load import patient, reference_journey
from faults.provider import running_provider
from faults.services import restart_problem

from domain.validation import validate_journey


def test_the_reference_journey_is_valid_and_waits_the_given_delay() -> None:
    journey = reference_journey(delay_seconds=3.0)
    assert not isinstance(validate_journey(journey), list)
    assert [n["duration_seconds"] for n in journey["nodes"] if n["type"] == "DELAY"] == [3.0]


def test_patients_alternate_over_and_under_the_age_condition() -> None:
    ages = [patient(index)["age"] for index in range(4)]
    assert [age > 65 for age in ages] == [True, False, True, False]


def test_the_provider_honours_keys_and_reports_only_a_message_sent_under_two_keys() -> None:
    with running_provider(port=0) as provider:

        def send(key: str, node: str) -> int:
            body = {"runId": "r1", "nodeId": node, "visit": 1}
            return httpx.post(provider.url, json=body, headers={"Idempotency-Key": key}).status_code

        provider.mode = "fail"
        assert send("r1:welcome:1", "welcome") == 500
        provider.mode = "accept"
        assert send("r1:welcome:1", "welcome") == 200  # refused, then accepted: one send
        assert [send("r1:reminder:1", "reminder"), send("r1:reminder:1", "reminder")] == [200, 200]
        assert provider.resends() == 1  # the repeat under its key sent nothing
        assert provider.messages_under_several_keys() == {}
        assert send("another-key", "reminder") == 200  # the same message under a new key: sent twice
        assert provider.messages_under_several_keys() == {("r1", "reminder", 1): 2}
        assert provider.requests() == 5


def test_a_broker_restart_counts_only_when_up_started_a_new_process_that_alone_listens() -> None:
    assert restart_problem(killed=100, started=True, pid=200, listeners={200}) is None
    assert "found a broker running" in str(restart_problem(100, started=False, pid=100, listeners={100}))
    assert "left pid 100 behind" in str(restart_problem(100, started=True, pid=100, listeners={100}))
    assert "held by ['300']" in str(restart_problem(100, started=True, pid=200, listeners={300}))
    assert "held by nobody" in str(restart_problem(100, started=True, pid=200, listeners=set()))
