"""The local broker's cluster id must never read as a command-line option."""

from __future__ import annotations

import base64
import uuid

import pytest

from pjs.services import kafka


def test_a_cluster_id_is_sixteen_bytes_in_url_safe_base64() -> None:
    cluster_id = kafka.new_cluster_id()

    assert len(cluster_id) == 22
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_an_id_that_would_start_with_a_dash_is_drawn_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 0xF8 puts 62 in the first six bits: "-" in the URL-safe alphabet.
    dashed = uuid.UUID(bytes=b"\xf8" + bytes(15))
    plain = uuid.UUID(bytes=b"\x04" + bytes(15))
    draws = iter([dashed, dashed, plain])
    monkeypatch.setattr(kafka.uuid, "uuid4", lambda: next(draws))

    cluster_id = kafka.new_cluster_id()

    assert base64.urlsafe_b64encode(dashed.bytes).decode().startswith("-")
    assert cluster_id == base64.urlsafe_b64encode(plain.bytes).decode().rstrip("=")
