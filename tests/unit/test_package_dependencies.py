"""Who may import whom, as data: a forbidden import anywhere under src/ fails this test.

The picture (docs/architecture.md): `events` at the bottom; the pure `domain` on it (the event catalogue
only); the workers (`engine`) and the read models (`projections`) on the domain, never on each other;
`subscribers` beside them; `api` on all of those; `pjs`, the composition root, on top.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

MAY_IMPORT: dict[str, frozenset[str]] = {
    "events": frozenset(),
    "domain": frozenset({"events"}),
    "engine": frozenset({"domain", "events"}),
    "projections": frozenset({"domain", "events"}),
    "subscribers": frozenset({"domain", "events"}),
    "api": frozenset({"domain", "engine", "projections", "subscribers", "events"}),
    "pjs": frozenset({"api", "domain", "engine", "projections", "subscribers", "events"}),
}
"""Project packages each package may import (besides itself)."""

DOMAIN_MAY_USE_FROM_EVENTS = frozenset({"events.catalogue"})
"""The domain core sees the event catalogue only: no store, no codec, no Kafka."""


def imports_of(path: Path) -> Iterator[str]:
    """Every module name a file imports, at any depth (function-level imports count too)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def project_imports() -> Iterator[tuple[str, str, str]]:
    """(importing package, file, imported module) for every import of a project package."""
    for path in sorted(SRC.rglob("*.py")):
        package = path.relative_to(SRC).parts[0]
        for module in imports_of(path):
            if module.split(".")[0] in MAY_IMPORT:
                yield package, str(path.relative_to(SRC)), module


def test_every_package_under_src_has_rules() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(MAY_IMPORT)


def test_no_package_imports_one_it_may_not() -> None:
    forbidden = [
        f"{file} imports {module}"
        for package, file, module in project_imports()
        if (target := module.split(".")[0]) != package and target not in MAY_IMPORT[package]
    ]
    assert forbidden == []


def test_the_domain_sees_only_the_event_catalogue() -> None:
    outside = [
        f"{file} imports {module}"
        for package, file, module in project_imports()
        if package == "domain" and module.startswith("events") and module not in DOMAIN_MAY_USE_FROM_EVENTS
    ]
    assert outside == []


def test_the_rules_have_no_cycle() -> None:
    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(
            dependency == goal or (dependency not in seen and reaches(dependency, goal, seen | {dependency}))
            for dependency in MAY_IMPORT[start]
        )

    assert [package for package in MAY_IMPORT if reaches(package, package)] == []


@pytest.mark.parametrize("rule", ["engine", "projections"])
def test_a_forbidden_import_is_caught(rule: str, tmp_path: Path) -> None:
    """The checker itself: an engine module importing a read model (or the reverse) is reported."""
    other = "projections" if rule == "engine" else "engine"
    sample = tmp_path / "sample.py"
    sample.write_text(f"from {other}.anything import thing\n")
    assert [m for m in imports_of(sample) if m.split(".")[0] not in MAY_IMPORT[rule]] == [f"{other}.anything"]
