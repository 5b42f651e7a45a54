"""Clicks that load another page."""

from __future__ import annotations

from typing import Any

PAGE_LOAD_SECONDS = 30


def click_through(browser: Any, element: Any) -> None:
    """Click ``element`` (a form's button, a link) and wait until the page it loads has replaced
    this one, so that what the test reads next is the answer: an element of the old page (the
    message list of the previous save, say) can otherwise still be found, and then go stale."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = browser.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(browser, PAGE_LOAD_SECONDS).until(expected_conditions.staleness_of(page))
