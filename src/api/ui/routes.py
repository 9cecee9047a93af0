"""Mounts the run explorer on the app: its pages, its forms, its live JSON and its static files."""

from __future__ import annotations

from fastapi import FastAPI

from api.ui import live, pages, provider_sign_in, run_actions, signin
from api.ui.render import static_files


def install_ui(app: FastAPI) -> None:
    for module in (signin, provider_sign_in, pages, run_actions, live):
        app.include_router(module.router)
    app.mount("/ui/static", static_files(), name="ui-static")
