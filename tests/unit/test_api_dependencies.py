"""Every route and dependency of the API is a coroutine: FastAPI runs a plain `def` in a worker thread,
which costs each request two thread hops and the GIL handed back and forth (docs/benchmarks.md)."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from api.app import create_app
from pjs.settings import Settings
from pjs.wiring import api_resources

_SETTINGS = Settings(
    database_url="postgresql://pjs_app:unused@db.example.org/pjs", kafka_bootstrap="kafka.example.org:9093"
)


def _api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (included := getattr(route, "original_router", None)) is not None:  # a lazily included router
            yield from _api_routes(included.routes)


def _runs_in_a_thread(call: Any) -> bool:
    target = call if inspect.isroutine(call) else type(call).__call__  # a class instance: its __call__
    return not inspect.iscoroutinefunction(target)


def _calls(dependant: Dependant) -> Iterator[Any]:
    yield dependant.call
    for dependency in dependant.dependencies:
        yield from _calls(dependency)


def test_no_route_or_dependency_of_the_api_is_run_in_a_worker_thread() -> None:
    app = create_app(api_resources(_SETTINGS))

    routes = list(_api_routes(app.routes))
    threaded = sorted(
        {
            f"{route.path}: {getattr(call, '__name__', type(call).__name__)}"
            for route in routes
            for call in _calls(route.dependant)
            if call is not None and _runs_in_a_thread(call)
        }
    )

    assert len(routes) > 30  # every router was found, lazily included ones too
    assert threaded == []
