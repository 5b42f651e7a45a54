"""The admin in a real browser: log in, work a case, upload a file, create a token and copy it."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from cases.demo import demo_seed, screenshot_png
from cases.models import Attachment, Case, Status
from tests.browser.conftest import SCREENSHOTS
from tokens import crypto
from tokens.models import ScopedToken

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(browser: Any, base: str, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(base + reverse("admin:login"))
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    assert browser.find_element(By.ID, "user-tools"), browser.page_source


def test_staff_works_a_case_and_creates_a_token_in_the_browser(
    browser: Any, screenshot: Any, live_server: Any, django_user_model: type[User], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    demo = demo_seed()
    django_user_model.objects.create_user("mod", password="a-long-staff-password", is_staff=True, is_superuser=True)
    base = live_server.url
    log_in(browser, base, "mod", "a-long-staff-password")

    # The queue, newest first.
    browser.get(base + reverse("admin:cases_case_changelist"))
    # The navigation sidebar folds away (and stays folded) to give the queue the width.
    browser.find_element(By.ID, "toggle-nav-sidebar").click()
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 50
    newest = Case.objects.order_by("-created_at", "-id").first()
    assert newest is not None
    assert newest.pk in rows[0].text
    screenshot("case-list")

    # Close an open case and upload a screenshot to it.
    case = Case.objects.filter(project=demo.project, status=Status.OPEN).order_by("-created_at").first()
    assert case is not None
    before = case.updated_at
    evidence = tmp_path / "evidence.txt"  # a PNG whatever its name says
    evidence.write_bytes(screenshot_png(99))
    browser.get(base + reverse("admin:cases_case_change", args=[case.pk]))
    Select(browser.find_element(By.NAME, "status")).select_by_value(Status.CLOSED)
    browser.find_element(By.NAME, "attachments-2-0-file").send_keys(str(evidence))
    browser.find_element(By.NAME, "attachments-2-0-tags").send_keys("aimbot, clip")
    browser.find_element(By.NAME, "_continue").click()
    assert "was changed successfully" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    stored = Case.objects.get(pk=case.pk)
    assert stored.status == Status.CLOSED
    assert stored.updated_at > before
    upload = Attachment.objects.filter(case=case, original_name="evidence.txt").get()
    assert (upload.content_type, upload.size, upload.tags) == ("image/png", evidence.stat().st_size, ["aimbot", "clip"])
    # The page shows the new file with a preview served by the admin's own file view.
    file_link = browser.find_element(By.CSS_SELECTOR, f"a[href$='/attachments/{upload.pk}/']")
    assert "evidence.txt" in file_link.text
    preview = file_link.find_element(By.TAG_NAME, "img")
    assert browser.execute_script("return arguments[0].naturalWidth", preview) == 160
    screenshot("case-page", full_page=True)

    # Create a token: its plaintext is on the page that answers the form, and only there.
    browser.get(base + reverse("admin:tokens_scopedtoken_add"))
    Select(browser.find_element(By.NAME, "project")).select_by_value(demo.project.pk)
    browser.find_element(By.NAME, "name").send_keys("Moderation bot")
    for scope in ("cases:read", "cases:write"):
        browser.find_element(By.CSS_SELECTOR, f"input[name=scopes][value='{scope}']").click()
    browser.find_element(By.NAME, "_save").click()
    plaintext = browser.find_element(By.ID, "token-plaintext").get_attribute("value")
    assert "cannot be shown again" in browser.page_source
    token = ScopedToken.objects.get(digest=crypto.digest(plaintext))
    assert (token.name, token.created_by, token.scopes) == ("Moderation bot", "mod", ["cases:read", "cases:write"])
    browser.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    browser.find_element(By.ID, "copy-token").click()
    assert browser.find_element(By.ID, "copy-status").text == "Copied"
    copied = browser.execute_async_script("navigator.clipboard.readText().then(arguments[arguments.length - 1])")
    assert copied == plaintext
    screenshot("token-shown-once")

    # The token works against the API...
    # S310: the URL is the live test server's own http address.
    api = urllib.request.Request(f"{base}/v1/cases?limit=1", headers={"Authorization": f"Bearer {plaintext}"})  # noqa: S310
    with urllib.request.urlopen(api) as response:  # noqa: S310
        assert response.status == 200
        assert len(json.load(response)["cases"]) == 1
    # ...and no admin page shows it again, whether reached by Back or anew.
    browser.back()
    for url in (
        reverse("admin:tokens_scopedtoken_changelist"),
        reverse("admin:tokens_scopedtoken_change", args=[token.pk]),
    ):
        browser.get(base + url)
    assert plaintext not in browser.page_source
    assert token.hint in browser.page_source

    for name in ("case-list", "case-page", "token-shown-once"):
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000
