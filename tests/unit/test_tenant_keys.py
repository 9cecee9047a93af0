"""Tenants in pure code: idempotency keys are per tenant, and a run event's tenant travels on its record."""

from __future__ import annotations

import uuid

from hypothesis import assume, given
from hypothesis import strategies as st

from engine.commands import IDEMPOTENCY_NAMESPACE, run_id_for_key
from events.catalogue import RecordedEvent
from events.envelope import from_kafka_record, to_kafka_record
from events.tenancy import DEFAULT_TENANT_ID, TENANT_HEADER
from support.runs import envelopes, run_started


@given(st.uuids(), st.uuids(), st.uuids(), st.text(min_size=1, max_size=50))
def test_the_same_idempotency_key_in_two_tenants_names_two_runs(
    tenant: uuid.UUID, other: uuid.UUID, journey: uuid.UUID, key: str
) -> None:
    assert run_id_for_key(tenant, journey, key) == run_id_for_key(tenant, journey, key)
    if tenant != other:
        assert run_id_for_key(tenant, journey, key) != run_id_for_key(other, journey, key)


KEYS = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=255)  # as JSON can carry


@given(st.uuids(), st.uuids(), KEYS)
def test_a_run_id_is_the_uuid5_of_tenant_journey_and_key(
    tenant: uuid.UUID, journey: uuid.UUID, key: str
) -> None:
    """The formula every run id so far was made with; computing it faster must not change one."""
    assume(tenant != DEFAULT_TENANT_ID)
    expected = uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{tenant}:{journey}:{key}")
    assert run_id_for_key(tenant, journey, key) == expected
    assert run_id_for_key(tenant, journey, key).version == 5


def test_the_default_tenant_keeps_the_run_ids_keys_named_before_tenancy() -> None:
    journey = uuid.uuid4()
    before = uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{journey}:booking-1")  # the formula before tenancy
    assert run_id_for_key(DEFAULT_TENANT_ID, journey, "booking-1") == before


class Consumed:
    def __init__(self, value: bytes | None, headers: list[tuple[str, bytes | None]]) -> None:
        self.value = value
        self.headers = headers


def test_a_run_events_tenant_travels_on_its_record_and_a_record_from_before_is_the_default_tenants() -> None:
    tenant = uuid.uuid4()
    [new] = envelopes(uuid.uuid4(), 0, [run_started()])
    record = to_kafka_record(RecordedEvent(**dict(new), position=7, tenant_id=tenant))
    headers: list[tuple[str, bytes | None]] = list(record.headers)
    assert (TENANT_HEADER, str(tenant).encode()) in headers
    assert from_kafka_record(Consumed(record.value, headers)).tenant_id == tenant
    older = [(name, value) for name, value in headers if name != TENANT_HEADER]
    assert from_kafka_record(Consumed(record.value, older)).tenant_id == DEFAULT_TENANT_ID
