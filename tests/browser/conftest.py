"""A headless Debian chromium driven through Debian's chromedriver; nothing is downloaded."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parents[2]


def screenshots_dir() -> Path:
    """``artifacts/screenshots`` (ignored by git); ``SCREENSHOTS_DIR=docs/screenshots`` (``make screenshots``)
    refreshes the images in docs/operations.md instead, so an ordinary test run never rewrites committed files."""
    return ROOT / os.environ.get("SCREENSHOTS_DIR", "artifacts/screenshots")


def _missing() -> list[str]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install -r requirements-dev.lock)")
    return missing


@pytest.fixture(autouse=True)
def _media_through_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """Django's live server answers MEDIA_URL from MEDIA_ROOT itself, before any view: turn that
    off so ``/media/`` reaches the service's own route (visibility, signatures, blocked files),
    as it does under gunicorn."""
    from django.test.testcases import _MediaFilesHandler

    monkeypatch.setattr(_MediaFilesHandler, "_should_handle", lambda self, path: False)


@pytest.fixture
def browser(live_server: Any) -> Iterator[Any]:
    """A fresh headless chromium per test, with its own profile directory.

    It depends on ``live_server`` so that it quits first: no request of it may reach the
    server while the test database is being flushed.

    Missing pieces fail the test under CI (the browser test is part of the acceptance) and
    skip it elsewhere, so a laptop without chromium can still run the rest.
    """
    missing = _missing()
    if missing:
        reason = f"browser test needs {', '.join(missing)} (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="serverops-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1600,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    # A driver path given to the Service keeps Selenium Manager from resolving (or downloading) one.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def screenshot(browser: Any) -> Any:
    """``screenshot("case-list")`` saves case-list.png in ``screenshots_dir()``.

    ``publish=False`` keeps it in artifacts/ even under ``make screenshots``. ``full_page=True``
    grows the window to the page's height first, so the shot holds everything below the fold
    (a case's files) too.
    """

    def _save(name: str, *, full_page: bool = False, publish: bool = True) -> Path:
        # A shot that shows a secret (the shown-once token) never goes to docs/.
        folder = screenshots_dir() if publish else ROOT / "artifacts" / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        size = browser.get_window_size()
        if full_page:
            height = browser.execute_script("return document.documentElement.scrollHeight")
            browser.set_window_size(size["width"], max(size["height"], height + 150))
        try:
            assert browser.save_screenshot(str(path)), f"could not write {path}"
        finally:
            browser.set_window_size(size["width"], size["height"])
        return path

    return _save
