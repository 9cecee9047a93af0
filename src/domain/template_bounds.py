"""Which message templates a journey may carry: ones whose rendering cost cannot outgrow their own size and
the patient context's.

Every clinic's templates render in the engine all clinics share, so one template must never stall it. The
Jinja2 sandbox keeps a template away from Python's internals, not from `{{ "x" * 10**9 }}`, nested loops
over `range`, or `"x".center(10**9)`. So a template is expressions and conditions only: text, `patient`
fields (`patient.first_name`, `patient["first-name"]`), literals, comparisons, `and` / `or` / `not`,
`{% if %}` / `x if c else y`, `~`, `+`, `-`, `/`, `//`, slices and the filters and tests named below. No
loops, calls, assignments, macros, blocks or includes, and no `*`, `**` or `%`. Each node of such a template
is evaluated at most once, and none multiplies a size; the renderer still caps filter results and the
rendered text (engine/message_rendering.py).
"""

from __future__ import annotations

from typing import Final

from jinja2 import nodes

FILTERS: Final = frozenset(
    {
        "abs", "capitalize", "count", "d", "default", "e", "escape", "first", "float", "int", "join", "last",
        "length", "lower", "max", "min", "reverse", "round", "sort", "string", "striptags", "sum", "title",
        "trim", "truncate", "unique", "upper", "wordcount",
    }
)  # fmt: skip
TESTS: Final = frozenset(
    {
        "boolean", "defined", "divisibleby", "eq", "equalto", "even", "false", "float", "ge", "greaterthan",
        "gt", "in", "integer", "iterable", "le", "lessthan", "lower", "lt", "mapping", "ne", "none", "number",
        "odd", "sameas", "sequence", "string", "true", "undefined", "upper",
    }
)  # fmt: skip
_ALLOWED: Final[tuple[type[nodes.Node], ...]] = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name, nodes.Getattr, nodes.Getitem,
    nodes.Slice, nodes.Filter, nodes.Test, nodes.If, nodes.CondExpr, nodes.Compare, nodes.Operand, nodes.And,
    nodes.Or, nodes.Not, nodes.Neg, nodes.Pos, nodes.Concat, nodes.Add, nodes.Sub, nodes.Div, nodes.FloorDiv,
    nodes.List, nodes.Tuple, nodes.Dict, nodes.Pair, nodes.Keyword,
)  # fmt: skip
_NAMED: Final[dict[type[nodes.Node], str]] = {
    nodes.For: "a loop ({% for %})",
    nodes.Call: "a function or method call",
    nodes.Mul: "the operator *",
    nodes.Pow: "the operator **",
    nodes.Mod: "the operator %",
    nodes.Assign: "an assignment ({% set %})",
    nodes.AssignBlock: "an assignment ({% set %})",
    nodes.Macro: "a macro",
    nodes.CallBlock: "a call block",
    nodes.FilterBlock: "a filter block",
    nodes.Scope: "{% autoescape %}",  # the only tag that parses to a bare scope
    nodes.ScopedEvalContextModifier: "{% autoescape %}",
    nodes.EvalContextModifier: "{% autoescape %}",
}
MAX_DEPTH: Final = 16
"""Deepest nesting of a template's syntax tree: far more than any message needs (a filter chain or nested
`if`s a few levels deep), and far less than what makes Jinja's compiler slow or Python's recursion fail."""
MAX_NODES: Final = 400
"""Most pieces (text, fields, operators, filters, literals) in one template: a long email with conditions
has under half as many, and compiling this many takes a few milliseconds."""
MAX_PATIENT_FIELDS: Final = 32
"""Most uses of `patient` in one template. Values grow only by joining what the template names, so this
bounds any value a render builds to 32 times the largest field the context may hold, before any cap."""


def template_refusal(template: nodes.Template) -> str | None:
    """Why a parsed template is not one a journey may carry (what, and on which line), or None.

    Walked without recursion, so no template can make the walk itself fail.
    """
    stack: list[tuple[nodes.Node, int, int]] = [(template, 1, 1)]
    seen = fields = 0
    while stack:
        node, depth, line = stack.pop()
        line = node.lineno or line
        seen += 1
        fields += isinstance(node, nodes.Name) and node.name == "patient"
        refusal = _size_refusal(depth, seen, fields) or _refusal(node)
        if refusal is not None:
            return f"{refusal} at line {line} is not allowed in a message template"
        children = list(node.iter_child_nodes())
        stack.extend((child, depth + 1, line) for child in reversed(children))  # in reading order
    return None


def _size_refusal(depth: int, seen: int, fields: int) -> str | None:
    if depth > MAX_DEPTH:
        return f"nesting deeper than {MAX_DEPTH} levels"
    if seen > MAX_NODES:
        return f"a template of more than {MAX_NODES} pieces"
    if fields > MAX_PATIENT_FIELDS:
        return f"using patient more than {MAX_PATIENT_FIELDS} times"
    return None


def _refusal(node: nodes.Node) -> str | None:
    if not isinstance(node, _ALLOWED):
        return _NAMED.get(type(node), f"{{% {type(node).__name__.lower()} %}}")
    if isinstance(node, nodes.Filter | nodes.Test):
        return _call_refusal(node)
    if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
        return f"the attribute {node.attr!r}"  # the sandbox would refuse it at every render
    if isinstance(node, nodes.Getitem) and not isinstance(node.arg, nodes.Const | nodes.Slice):
        # A key computed from the patient's data would name that data in a missing-field reason,
        # which events keep in clear: `patient[patient.code]`.
        return "a key that is not written in the template"
    return None


def _call_refusal(node: nodes.Filter | nodes.Test) -> str | None:
    if (node.dyn_args or node.dyn_kwargs) is not None:
        return "*args or **kwargs"
    if node.name not in (FILTERS if isinstance(node, nodes.Filter) else TESTS):
        return f"the {'filter' if isinstance(node, nodes.Filter) else 'test'} {node.name!r}"
    if any(k.key == "attribute" and not isinstance(k.value, nodes.Const) for k in node.kwargs):
        return "an attribute name that is not written in the template"
    if node.name == "sum" and (node.args or any(k.key == "start" for k in node.kwargs)):
        return "sum with a start value"  # sum of numbers only: joining lists this way is quadratic
    return None
