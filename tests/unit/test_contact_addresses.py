"""A journey that sends by sms or email takes only a whole phone number or email address, nothing after it."""

from datetime import UTC, datetime

import pytest

from domain.context_fit import context_fit
from domain.journey import JourneyDefinition, MessageNode

SENDS_BOTH = JourneyDefinition(
    name="Reminders",
    start_node_id="text",
    nodes=(
        MessageNode(id="text", message="Hi", channel="sms", next_node_id="mail"),
        MessageNode(id="mail", message="Hi", channel="email"),
    ),
)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PATIENT = {"id": "p-ch6", "age": 30, "language": "en", "phone": "+15551234567", "email": "a@b.co"}


def refused_fields(**changes: object) -> list[str]:
    return [problem.path for problem in context_fit(SENDS_BOTH).problems({**PATIENT, **changes}, NOW)]


def test_a_plain_phone_number_and_email_address_pass() -> None:
    assert refused_fields() == []


@pytest.mark.parametrize(
    "phone", ["+15551234567\n", "+15551234567\r\n", "\n+15551234567", "+1555123456\u0667"]
)
def test_a_phone_number_with_anything_around_it_or_foreign_digits_is_refused(phone: str) -> None:
    assert refused_fields(phone=phone) == ["phone"]


@pytest.mark.parametrize("email", ["a@b.co\n", "a@b.co\r\nBcc: x", "\na@b.co"])
def test_an_email_address_with_a_line_break_around_it_is_refused(email: str) -> None:
    assert refused_fields(email=email) == ["email"]
