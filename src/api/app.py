"""Builds the FastAPI application; its dependencies arrive through lifespan, never at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.health import router as health_router
from api.resources import Resources


def create_app(resources: Resources) -> FastAPI:
    """The app over already-configured resources; they are opened on start-up and closed on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await resources.open()
        app.state.resources = resources
        try:
            yield
        finally:
            await resources.close()

    app = FastAPI(
        title="Patient Journey Scheduler",
        version="0.1.0",
        docs_url="/api",
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.include_router(health_router)
    return app
