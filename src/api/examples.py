"""Request and parameter examples for the OpenAPI document: the seed journey and its patient."""

from __future__ import annotations

from typing import Any, Final

SEED_JOURNEY: Final[dict[str, Any]] = {
    "name": "Pre-op reminders",
    "start_node_id": "welcome",
    "nodes": [
        {
            "id": "welcome",
            "type": "MESSAGE",
            "message": "Your surgery is booked.",
            "next_node_id": "age_check",
        },
        {
            "id": "age_check",
            "type": "CONDITIONAL",
            "condition": {"field": "patient.age", "operator": ">", "value": 65},
            "on_true_next_node_id": "senior_leaflet",
            "on_false_next_node_id": "wait",
        },
        {
            "id": "senior_leaflet",
            "type": "MESSAGE",
            "message": "Here is the fall-risk leaflet.",
            "next_node_id": "wait",
        },
        {"id": "wait", "type": "DELAY", "duration_seconds": 2, "next_node_id": "reminder"},
        {
            "id": "reminder",
            "type": "MESSAGE",
            "message": "Reminder: nothing to eat after midnight.",
            "next_node_id": None,
        },
    ],
}

SEED_PATIENT: Final[dict[str, Any]] = {"id": "patient-123", "age": 70, "language": "en", "condition": "knee"}

CLINIC_JOURNEY: Final[dict[str, Any]] = {
    "name": "Appointment reminders",
    "start_node_id": "welcome",
    "timezone": "Europe/Madrid",
    "quiet_hours": {"start": "21:00", "end": "08:00"},
    "nodes": [
        {
            "id": "welcome",
            "type": "MESSAGE",
            "message": "Hello {{ patient.first_name | default('there') }}, your appointment is booked.",
            "translations": {"es": "Hola {{ patient.first_name | default('') }}, su cita está reservada."},
            "channel": "sms",
            "next_node_id": "day_before",
        },
        {
            "id": "day_before",
            "type": "DELAY",
            "until_field": "patient.appointment_at",
            "offset_seconds": -86400,
            "at_local_time": "09:00",
            "next_node_id": "reminder",
        },
        {
            "id": "reminder",
            "type": "MESSAGE",
            "message": "<p>See you tomorrow, {{ patient.first_name }}.</p>",
            "channel": "email",
            "next_node_id": "next_morning",
        },
        {"id": "next_morning", "type": "DELAY", "until_local_time": "09:00", "next_node_id": "survey"},
        {"id": "survey", "type": "MESSAGE", "message": "How did it go?", "next_node_id": None},
    ],
}

CLINIC_PATIENT: Final[dict[str, Any]] = {
    "id": "patient-321",
    "age": 52,
    "language": "es",
    "timezone": "Asia/Tokyo",
    "first_name": "Lucía",
    "phone": "+34600123456",
    "email": "lucia@example.org",
    "appointment_at": "2026-03-09T10:30:00",
}

RECEIPT_EXAMPLES: Final[dict[str, Any]] = {
    "delivered": {
        "summary": "The provider delivered it",
        "value": {"status": "delivered", "providerMessageId": "SM123"},
    },
    "bounced": {
        "summary": "The provider could not deliver it",
        "value": {"status": "bounced", "providerMessageId": "SM124", "reason": "unknown_number"},
    },
}

INVALID_JOURNEY: Final[dict[str, Any]] = {
    "name": "",
    "start_node_id": "missing",
    "nodes": [{"id": "a", "type": "SMS", "next_node_id": "nowhere"}],
}

EXAMPLE_ID: Final = "3f2c6a4e-9b1d-4c7a-8e5f-1a2b3c4d5e6f"

JOURNEY_EXAMPLES: Final[dict[str, Any]] = {
    "seed": {"summary": "Pre-op reminders (the seed journey)", "value": SEED_JOURNEY},
    "messages": {
        "summary": "Templates, languages, channels (sms and email: needs PJS_SMS_URL and PJS_SMTP_HOST), "
        "the patient's clock and quiet hours",
        "value": CLINIC_JOURNEY,
    },
    "invalid": {"summary": "An invalid journey: the 400 lists every problem", "value": INVALID_JOURNEY},
}

PATIENT_EXAMPLES: Final[dict[str, Any]] = {
    "senior": {"summary": "A 70-year-old patient (gets the fall-risk leaflet)", "value": SEED_PATIENT},
    "younger": {
        "summary": "A 40-year-old patient (skips the leaflet)",
        "value": {**SEED_PATIENT, "id": "patient-456", "age": 40, "language": "es"},
    },
    "with_clock": {
        "summary": "A Spanish-speaking patient in Tokyo, with name, addresses and appointment",
        "value": CLINIC_PATIENT,
    },
    "missing_age": {"summary": "No age: 400 naming `age`", "value": {"id": "patient-789", "language": "en"}},
}

SEARCH_EXAMPLES: Final[dict[str, Any]] = {
    "by_patient": {"summary": "A patient's runs", "value": {"patientId": "patient-123", "limit": 50}},
    "failed": {"summary": "Failed runs of a journey", "value": {"journeyId": EXAMPLE_ID, "status": "failed"}},
}

AUDIT_SEARCH_EXAMPLES: Final[dict[str, Any]] = {
    "by_patient": {
        "summary": "What was done to and read of a patient",
        "value": {"patientId": "patient-123"},
    },
}
