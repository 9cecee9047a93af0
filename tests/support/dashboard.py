"""The Grafana dashboard's PromQL: every metric name its panels and variables query, and /metrics' names."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
from prometheus_client.parser import text_string_to_metric_families

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "pjs-overview.json"

_GRAFANA_RANGES = re.compile(
    r"\$(?:__rate_interval|__interval|__range)\b|\$\{(?:__rate_interval|__interval|__range)\}"
)
_GRAFANA_VARIABLES = re.compile(r"\$\{?\w+\}?")
_LABEL_VALUES = re.compile(r"^\s*label_values\((?:(?P<selector>.*),)?\s*\w+\s*\)\s*$")
_HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


def metric_names(expression: str) -> set[str]:
    """The series names a PromQL expression selects, from its syntax tree (Prometheus' own grammar, via
    promql-parser): a query that does not parse fails here. Grafana's range macros stand in as 5m and its
    variables (inside label matchers) as a plain value."""
    promql = _GRAFANA_VARIABLES.sub("x", _GRAFANA_RANGES.sub("5m", expression))
    return set(_selected(promql_parser.parse(promql)))


def _selected(node: Any) -> Iterator[str]:
    if isinstance(node, promql_parser.VectorSelector):
        by_matcher = [m.value for m in node.matchers.matchers if m.name == "__name__"]
        yield from [node.name] if node.name else by_matcher
    elif isinstance(node, promql_parser.MatrixSelector):
        yield from _selected(node.vector_selector)
    elif isinstance(node, promql_parser.Call):
        for argument in node.args:
            yield from _selected(argument)
    elif isinstance(node, promql_parser.BinaryExpr):
        yield from _selected(node.lhs)
        yield from _selected(node.rhs)
    elif isinstance(node, promql_parser.AggregateExpr):
        yield from _selected(node.expr)
        if node.param is not None:
            yield from _selected(node.param)
    elif isinstance(node, promql_parser.ParenExpr | promql_parser.UnaryExpr | promql_parser.SubqueryExpr):
        yield from _selected(node.expr)
    elif not isinstance(node, promql_parser.NumberLiteral | promql_parser.StringLiteral):
        # A node this walk does not know would hide its metrics from every check: fail instead.
        raise TypeError(f"metric_names does not know the PromQL node {type(node).__name__}")


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
