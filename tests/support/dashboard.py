"""The Grafana dashboard's PromQL: every metric name its panels and variables query, and /metrics' names."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "pjs-overview.json"

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPINGS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_VARIABLES = re.compile(r"\$\{?\w+\}?")
_IDENTIFIER = re.compile(r"[A-Za-z_:][\w:]*(?:\s*\()?")
_LABEL_VALUES = re.compile(r"^\s*label_values\((?:(?P<selector>.*),)?\s*\w+\s*\)\s*$")
_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "atan2",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    }
    | {"inf", "nan"}
)
_HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


def metric_names(expression: str) -> set[str]:
    """The series names a PromQL expression selects: functions, keywords, labels, durations left out."""
    bare = _STRINGS.sub(" ", expression)
    for pattern in (_MATCHERS, _RANGES, _GROUPINGS, _VARIABLES):
        bare = pattern.sub(" ", bare)
    names = set()
    for match in _IDENTIFIER.finditer(bare):
        token = match.group()
        if token.endswith("(") or token.lower() in _KEYWORDS:
            continue  # a function call (or an aggregation) and its parentheses
        if match.start() > 0 and bare[match.start() - 1].isdigit():
            continue  # the exponent or unit of a number (1e3, 5m)
        names.add(token)
    return names


def variable_metric_names(query: str) -> set[str]:
    """The names a Grafana variable's query selects: `label_values(selector, label)` takes its selector."""
    label_values = _LABEL_VALUES.match(query)
    if label_values is None:
        return metric_names(query)
    return metric_names(label_values.group("selector") or "")


def panel_expressions(dashboard: dict[str, Any]) -> Iterator[str]:
    """Every query of every panel (rows' nested panels too)."""
    panels = list(dashboard.get("panels", []))
    while panels:
        panel = panels.pop()
        panels.extend(panel.get("panels", []))
        yield from (target["expr"] for target in panel.get("targets", []) if target.get("expr"))


def variable_queries(dashboard: dict[str, Any]) -> Iterator[str]:
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            yield query["query"] if isinstance(query, dict) else query


def queried_metrics(dashboard: dict[str, Any]) -> set[str]:
    """Every series name the dashboard's panels and variables select."""
    names = {name for expression in panel_expressions(dashboard) for name in metric_names(expression)}
    return names.union(*(variable_metric_names(query) for query in variable_queries(dashboard)))


def load_dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


class Exposition:
    """What a /metrics text exposes: each family's type, and every series name with at least one sample."""

    def __init__(self, text: str) -> None:
        self.types: dict[str, str] = {}
        self.series: set[str] = set()
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            self.series.update(sample.name for sample in family.samples)

    def family_of(self, series: str) -> str:
        """The family a queried series belongs to: `x_bucket`, `x_sum`, `x_count` of histogram `x`,
        `x_total` of counter `x`; a name whose stem is no such family is a family itself."""
        for suffix in _HISTOGRAM_SERIES:
            stem = series.removesuffix(suffix)
            if stem != series and self.types.get(stem) in ("histogram", "summary"):
                return stem
        stem = series.removesuffix("_total")
        if stem != series and self.types.get(stem) == "counter":
            return stem
        return series

    def missing(self, queried: set[str]) -> list[str]:
        """The queried series that no family exposes or that have no sample yet."""
        return sorted(s for s in queried if self.family_of(s) not in self.types or s not in self.series)
