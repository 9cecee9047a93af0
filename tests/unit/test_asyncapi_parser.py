"""The official AsyncAPI parser (@asyncapi/parser, by node) accepts the document and refuses a broken one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from events.asyncapi import RunEventsTopic, asyncapi_document, document_yaml
from events.catalogue import EVENT_TYPES

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "asyncapi"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed: the AsyncAPI parser cannot run")


def parse(path: Path) -> subprocess.CompletedProcess[str]:
    assert (TOOLS / "node_modules" / "@asyncapi" / "parser").is_dir(), (
        "the AsyncAPI parser is not installed: run `make install` (npm ci in tools/asyncapi)"
    )
    return subprocess.run(
        [str(NODE), str(TOOLS / "validate.mjs"), str(path)], capture_output=True, text=True, timeout=120
    )


def test_the_parser_accepts_the_committed_document_and_one_for_another_topic(tmp_path: Path) -> None:
    other = tmp_path / "asyncapi.yaml"
    other.write_text(document_yaml(asyncapi_document(RunEventsTopic("clinic.run-events", 3, 1))))

    for path in (ROOT / "docs" / "asyncapi.yaml", other):
        parsed = parse(path)
        assert parsed.returncode == 0, parsed.stderr
        assert f"valid AsyncAPI 3.0.0, {len(EVENT_TYPES)} messages, 0 warning(s)" in parsed.stdout


def test_the_parser_refuses_a_message_pointing_at_a_missing_schema(tmp_path: Path) -> None:
    document = asyncapi_document(RunEventsTopic("pjs.run-events", 12, 168))
    del document["components"]["schemas"]["RunStartedPayload"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(document))

    parsed = parse(broken)

    assert parsed.returncode == 1
    assert "RunStartedPayload" in parsed.stderr
    assert "not a valid AsyncAPI document" in parsed.stderr
