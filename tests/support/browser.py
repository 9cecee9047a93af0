"""Debian's Chromium driven headless through chromedriver, the app served by uvicorn on a loopback port,
and screenshots at a laptop's and a phone's size saved as test artefacts."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import pytest
import uvicorn
from fastapi import FastAPI
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from support.roles import free_port

CHROMIUM: Final = Path(os.environ.get("PJS_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER: Final = Path(os.environ.get("PJS_CHROMEDRIVER", "/usr/bin/chromedriver"))
ARTIFACTS: Final = Path(os.environ.get("PJS_UI_ARTIFACTS", ".artifacts/ui"))
SIZES: Final = {"laptop": (1366, 768), "phone": (390, 844)}
WAIT_SECONDS: Final = 30
# What chromedriver answers, as an unnamed error, when the page an element was read from is replaced
# mid-command (a form's response loading, a reload).
NAVIGATION_ERRORS: Final = (
    "does not belong to the document",
    "aborted by navigation",
    "Inspected target navigated or closed",
    "Execution context was destroyed",
    "loader has changed",
)


def chromium() -> WebDriver:
    """A headless Chromium; the test fails (never skips) when it is not installed."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(
            f"Browser tests need Debian's chromium and chromium-driver; missing: {', '.join(missing)}. "
            "Install them with `make browser` (apt-get install chromium chromium-driver)."
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size={},{}".format(*SIZES["laptop"]))
    return webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))


@contextmanager
def browser() -> Iterator[WebDriver]:
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(
    driver: WebDriver, condition: Callable[[WebDriver], object], seconds: float = WAIT_SECONDS
) -> None:
    """Until `condition(driver)` is true (a page's live update, an element appearing).

    An element replaced while the condition read it (a page loading after a form, a live update redrawing
    it) or not there yet is asked again at the next poll, whichever error chromedriver gives for it.
    """
    ignored = (StaleElementReferenceException, NoSuchElementException)
    waiting = WebDriverWait(driver, seconds, poll_frequency=0.2, ignored_exceptions=ignored)
    waiting.until(_asked_again_across_navigation(condition))


def _asked_again_across_navigation(
    condition: Callable[[WebDriver], object],
) -> Callable[[WebDriver], object]:
    def attempt(driver: WebDriver) -> object:
        try:
            return condition(driver)
        except WebDriverException as error:
            if any(phrase in (error.msg or "") for phrase in NAVIGATION_ERRORS):
                return False
            raise

    return attempt


def screenshot(driver: WebDriver, name: str) -> None:
    """The page at each size, as ARTIFACTS/<name>-<size>.png; the laptop's viewport is restored after."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for size, (width, height) in SIZES.items():
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": size == "phone"}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)  # type: ignore[attr-defined]
        time.sleep(0.3)  # let the layout settle at the new width before the capture
        driver.save_screenshot(str(ARTIFACTS / f"{name}-{size}.png"))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})  # type: ignore[attr-defined]


@contextmanager
def serving(app: FastAPI, port: int | None = None) -> Iterator[str]:
    """The app served by uvicorn in a thread (its own event loop) on a loopback port (a free one unless
    given): its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="ui-test-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
