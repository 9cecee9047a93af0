"""The browser tests' waits hold while the page under them is replaced: a form's answer loading, a reload.

chromedriver reports an element read mid-navigation with unnamed errors ("unhandled inspector error: Node
with given id does not belong to the document"), not only with the stale element error. A wait must take
each of them as "ask again", never fail the test.
"""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from support.browser import browser, serving, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

WANTED_UNNAMED_ERRORS = 3
MOST_READS = 300
PAGE = '<!doctype html><html><body><p id="state">here</p></body></html>'


def _page_app() -> FastAPI:
    app = FastAPI()

    @app.get("/")
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE)

    return app


def test_a_wait_asks_again_when_the_page_is_replaced_while_an_element_is_read() -> None:
    errors: Counter[str] = Counter()
    reads = itertools.count()

    def read_while_the_page_reloads(driver: WebDriver) -> bool:
        attempt = next(reads)
        if errors["unnamed"] >= WANTED_UNNAMED_ERRORS or attempt == MOST_READS:
            return True
        state = driver.find_element(By.ID, "state")
        # the reload starts 0-5 ms later: some reads land while the old document is being torn down
        driver.execute_script("setTimeout(() => location.reload(), arguments[0])", attempt % 6)
        try:
            for _ in range(3):
                assert state.text == "here"
        except StaleElementReferenceException:
            errors["stale"] += 1
            raise
        except WebDriverException:
            errors["unnamed"] += 1
            raise
        return False

    with serving(_page_app()) as url, browser() as driver:
        driver.get(url)
        wait_for(driver, read_while_the_page_reloads, seconds=240)
    assert errors["unnamed"] >= WANTED_UNNAMED_ERRORS, f"too few reads landed mid-navigation: {dict(errors)}"
