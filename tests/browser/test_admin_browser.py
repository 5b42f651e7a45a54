"""The admin in a real browser: log in, work a case, upload a file, create a token and copy it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from cases.demo import demo_seed, screenshot_png
from cases.models import Attachment, Case, Status
from media.models import File
from media.services import file_update
from media.storage import media_storage
from tests.browser.conftest import ROOT
from tests.browser.pages import click_through
from tests.factories import TokenFactory
from tokens import crypto
from tokens.models import Member, Role, ScopedToken
from tokens.scopes import SCOPES
from tokens.services import token_revoke

pytestmark = [pytest.mark.browser, pytest.mark.any_database, pytest.mark.django_db(transaction=True)]


def log_in(browser: Any, base: str, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(base + reverse("admin:login"))
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(password)
    click_through(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit]"))
    assert browser.find_element(By.ID, "user-tools"), browser.page_source


def test_staff_works_a_case_and_creates_a_token_in_the_browser(
    browser: Any, screenshot: Any, live_server: Any, django_user_model: type[User], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    demo = demo_seed()
    django_user_model.objects.create_user("mod", password="a-long-staff-password", is_staff=True, is_superuser=True)
    base = live_server.url
    log_in(browser, base, "mod", "a-long-staff-password")

    # Every case, in the queue's order: the most urgent first, then the oldest.
    browser.get(base + reverse("admin:cases_case_changelist") + "?status=all")
    # The navigation sidebar folds away (and stays folded) to give the queue the width.
    browser.find_element(By.ID, "toggle-nav-sidebar").click()
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 50
    first = Case.objects.filter(priority="urgent").order_by("created_at", "id").first()
    assert first is not None
    assert rows[0].find_element(By.CSS_SELECTOR, f"span[title='{first.pk}']")

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
    click_through(browser, browser.find_element(By.NAME, "_continue"))
    assert "was changed successfully" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    stored = Case.objects.get(pk=case.pk)
    assert stored.status == Status.CLOSED
    assert stored.updated_at > before
    upload = Attachment.objects.select_related("file").get(case=case, file__original_name="evidence.txt").file
    assert (upload.content_type, upload.size, upload.tags) == ("image/png", evidence.stat().st_size, ["aimbot", "clip"])
    # The page shows the new file with its thumbnail (made by the server) and a staff link that opens it.
    file_link = browser.find_element(By.XPATH, "//a[contains(@class, 'file-open-link')][contains(., 'evidence.txt')]")
    assert "staff=1" in file_link.get_attribute("href")
    preview = browser.find_element(
        By.CSS_SELECTOR, f"img.file-thumbnail[src='{reverse('admin:media_file_thumbnail', args=[upload.pk])}']"
    )
    assert browser.execute_script("return arguments[0].naturalWidth", preview) == 160

    # Create a token: its plaintext is on the page that answers the form, and only there.
    browser.get(base + reverse("admin:tokens_scopedtoken_add"))
    Select(browser.find_element(By.NAME, "project")).select_by_value(demo.project.pk)
    browser.find_element(By.NAME, "name").send_keys("Moderation bot")
    for scope in ("cases:read", "cases:write"):
        browser.find_element(By.CSS_SELECTOR, f"input[name=scopes][value='{scope}']").click()
    click_through(browser, browser.find_element(By.NAME, "_save"))
    plaintext = browser.find_element(By.ID, "secret-plaintext").get_attribute("value")
    assert "cannot be shown again" in browser.page_source
    token = ScopedToken.objects.get(digest=crypto.digest(plaintext))
    assert (token.name, token.created_by, token.scopes) == ("Moderation bot", "mod", ["cases:read", "cases:write"])
    browser.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    browser.find_element(By.ID, "copy-secret").click()
    # The page writes the status when the clipboard's promise settles, not within the click.
    status = browser.find_element(By.ID, "copy-status")
    WebDriverWait(browser, 5).until(lambda _: status.text != "")
    assert status.text == "Copied"
    copied = browser.execute_async_script("navigator.clipboard.readText().then(arguments[arguments.length - 1])")
    assert copied == plaintext
    screenshot("token-shown-once", publish=False)

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

    assert (ROOT / "artifacts" / "screenshots" / "token-shown-once.png").stat().st_size > 10_000


# How many lines each matching element's text takes (an inline element has one client rect per line).
LINES = "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.getClientRects().length)"
# The width the element's box overflows the visible page by (0 when it fits).
OVERFLOW = """
const rects = Array.from(document.querySelectorAll(arguments[0])).map(e => e.getBoundingClientRect().right);
return Math.max(0, ...rects) - document.documentElement.clientWidth;
"""
# Per case title in the list: the lines it takes, and whether the two-line cut hides some of it.
TITLES = """
return Array.from(document.querySelectorAll("#result_list .case-title")).map(e => [
  Math.round(e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight)),
  e.scrollHeight > e.clientHeight + 1,
]);
"""
# The page, or the change list's table inside it, scrolls sideways.
SCROLLS_SIDEWAYS = """
return [document.documentElement, document.querySelector("#changelist .results")]
  .some(e => e !== null && e.scrollWidth > e.clientWidth);
"""


@pytest.mark.parametrize("width", [1280, 1920])
def test_case_list_case_page_and_token_list_read_well_with_the_sidebar_open(
    browser: Any, screenshot: Any, live_server: Any, django_user_model: type[User], width: int
) -> None:
    """No sideways scrolling, titles on at most two lines, token states in view; screenshots of each page."""
    from selenium.webdriver.common.by import By

    demo = demo_seed()
    token_revoke(token=TokenFactory(project=demo.project, name="Old Discord bot"))
    expired = TokenFactory(project=demo.project, name="Tournament scoreboard", scopes=list(SCOPES))
    ScopedToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=3))
    django_user_model.objects.create_user("mod", password="a-long-staff-password", is_staff=True, is_superuser=True)
    browser.set_window_size(width, 900)
    base = live_server.url
    log_in(browser, base, "mod", "a-long-staff-password")

    browser.get(base + reverse("admin:cases_case_changelist") + "?status=all")
    screenshot(f"case-list-{width}")
    assert browser.find_element(By.ID, "nav-sidebar").is_displayed()
    assert not browser.execute_script(SCROLLS_SIDEWAYS)
    titles = browser.execute_script(TITLES)
    assert len(titles) == 50
    assert max(lines for lines, _ in titles) <= 2, titles
    assert not any(cut for _, cut in titles), titles  # the demo's titles all show whole

    case = Case.objects.filter(project=demo.project, attachments__isnull=False).order_by("-created_at").first()
    assert case is not None
    browser.get(base + reverse("admin:cases_case_change", args=[case.pk]))
    screenshot(f"case-page-{width}", full_page=True)
    assert not browser.execute_script(SCROLLS_SIDEWAYS)
    assert browser.find_element(By.CSS_SELECTOR, "table.case-history").is_displayed()
    assert set(browser.execute_script(LINES, ".file-facts .short-value")) == {1}

    browser.get(base + reverse("admin:tokens_scopedtoken_changelist"))
    screenshot(f"token-list-{width}")
    assert not browser.execute_script(SCROLLS_SIDEWAYS)
    assert browser.execute_script(OVERFLOW, "#result_list td.field-state_badge") <= 0
    states = {b.text for b in browser.find_elements(By.CSS_SELECTOR, ".token-state")}
    assert {"active", "revoked", "expired"} <= states
    colours = {
        state: browser.find_element(By.CSS_SELECTOR, f".token-state-{state}").value_of_css_property("background-color")
        for state in ("active", "revoked", "expired")
    }
    assert len(set(colours.values())) == 3, colours


def test_moderator_blocks_a_screenshot_and_its_public_url_stops_serving(
    browser: Any, screenshot: Any, live_server: Any, django_user_model: type[User]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    demo = demo_seed()
    # The demo's evidence mixes screenshots with logs and clips: take a case's screenshot.
    evidence = (
        Attachment.objects.filter(case__project=demo.project, file__content_type="image/png")
        .select_related("case", "file")
        .order_by("-case__created_at", "position")
        .first()
    )
    assert evidence is not None
    case = evidence.case
    file = file_update(file_id=evidence.file_id, changes={"visibility": "public"})
    base = live_server.url
    public = base + media_storage(file).media_url(file.blob.name or "", expires_in=None)

    def fetch_public() -> int:
        try:
            with urllib.request.urlopen(public) as response:  # noqa: S310 (the live test server)
                assert response.read() == file.blob.open("rb").read()
                return int(response.status)
        except urllib.error.HTTPError as refused:
            return refused.code

    assert fetch_public() == 200

    moderator = django_user_model.objects.create_user("casemod", password="a-long-staff-password", is_staff=True)
    Member.objects.create(organisation=demo.project.organisation, user=moderator, role=Role.MODERATOR)
    browser.set_window_size(1280, 900)
    log_in(browser, base, "casemod", "a-long-staff-password")

    # The case page shows the screenshot's thumbnail, made by the server.
    browser.get(base + reverse("admin:cases_case_change", args=[case.pk]))
    thumbnail = browser.find_element(
        By.CSS_SELECTOR, f"img.file-thumbnail[src='{reverse('admin:media_file_thumbnail', args=[file.pk])}']"
    )
    assert browser.execute_script("return arguments[0].naturalWidth", thumbnail) == 160

    # The file opens (staff link), and its review page blocks it.
    opened = browser.find_element(By.CSS_SELECTOR, f".file-open-link[href*='{file.pk}']").get_attribute("href")
    click_through(
        browser,
        browser.find_element(By.CSS_SELECTOR, f"a[href='{reverse('admin:media_file_change', args=[file.pk])}']"),
    )
    Select(browser.find_element(By.NAME, "abuse_status")).select_by_value("blocked")
    click_through(browser, browser.find_element(By.NAME, "_save"))
    assert "was changed successfully" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert (File.objects.get(pk=file.pk).abuse_status, File.objects.get(pk=file.pk).visibility) == ("blocked", "public")

    # Its public URL stops serving; staff still see it.
    assert fetch_public() == 404
    browser.get(opened)
    assert browser.execute_script("return document.images.length && document.images[0].naturalWidth") == 160

    # The review queue: flag another of the project's files with the bulk action.
    browser.get(base + reverse("admin:media_file_changelist") + f"?project__id__exact={demo.project.pk}")
    other = File.objects.filter(project=demo.project).exclude(pk=file.pk).order_by("-created_at", "-id").first()
    assert other is not None
    browser.find_element(By.CSS_SELECTOR, f"input[name=_selected_action][value='{other.pk}']").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("mark_flagged")
    click_through(browser, browser.find_element(By.NAME, "index"))
    assert "Marked 1 file(s) flagged." in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert File.objects.get(pk=other.pk).abuse_status == "flagged"
    assert browser.find_element(By.CSS_SELECTOR, ".abuse-status-blocked").text == "Blocked"
    assert not browser.execute_script(SCROLLS_SIDEWAYS)
    # Every thumbnail in view has loaded (those below the fold load lazily, as the page scrolls).
    in_view = """
    return Array.from(document.querySelectorAll("img.file-thumbnail"))
      .filter(i => i.getBoundingClientRect().top < window.innerHeight)
      .map(i => i.complete && i.naturalWidth);
    """
    WebDriverWait(browser, 10).until(lambda b: all(b.execute_script(in_view)))
    assert len(browser.execute_script(in_view)) >= 4
    screenshot("file-queue-1280")


# The status column's right edge, and the page's width: the column is in view when it ends inside the page.
STATUS_IN_VIEW = """
const cells = Array.from(document.querySelectorAll("#result_list td.field-status, #result_list th.column-status"));
return cells.length > 0 && cells.every(c => c.getBoundingClientRect().right <= document.documentElement.clientWidth);
"""


def test_webhook_endpoint_and_delivery_lists_fit_at_1280_px(
    browser: Any, screenshot: Any, live_server: Any, django_user_model: type[User], settings: Any
) -> None:
    """Issue 25: the endpoint list's table was about twice its box's width, and the delivery list
    hid its status column; at 1280 px with the sidebar open both fit, long URLs wrapping."""
    from selenium.webdriver.common.by import By

    from cases.services import Actor, case_create
    from webhooks.models import WebhookMessage
    from webhooks.services import endpoint_create

    settings.SERVEROPS = {**settings.SERVEROPS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True}
    demo = demo_seed()
    long_url = "http://127.0.0.1:9/hooks/" + "a-very-long-path-segment-" * 12 + "?token-free=yes"
    endpoint_create(project=demo.project, mode="live", url=long_url, events=["case.created", "case.updated"])
    endpoint_create(
        project=demo.project,
        mode="live",
        url="http://127.0.0.1:9/api/webhooks/1234/abc",
        events=["case.created", "case.updated", "case.note_added", "file.created", "file.blocked"],
        format="discord",
    )
    endpoint_create(project=demo.project, mode="test", url="http://127.0.0.1:9/test-hooks")
    for n in range(12):
        case_create(project=demo.project, mode="live", actor=Actor.system("demo"), title=f"Report {n}")
    WebhookMessage.objects.filter(pk__in=WebhookMessage.objects.values("pk")[:5]).update(
        status="failed", attempts=8, last_status_code=500, last_duration_ms=130, last_error=""
    )
    django_user_model.objects.create_user("mod", password="a-long-staff-password", is_staff=True, is_superuser=True)
    browser.set_window_size(1280, 900)
    base = live_server.url
    log_in(browser, base, "mod", "a-long-staff-password")

    browser.get(base + reverse("admin:webhooks_webhookendpoint_changelist"))
    screenshot("webhook-endpoints-1280")
    assert browser.find_element(By.ID, "nav-sidebar").is_displayed()
    assert not browser.execute_script(SCROLLS_SIDEWAYS)
    assert browser.execute_script(OVERFLOW, "#result_list") <= 0
    assert len(browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")) == 3

    browser.get(base + reverse("admin:webhooks_webhookmessage_changelist"))
    screenshot("webhook-messages-1280")
    assert not browser.execute_script(SCROLLS_SIDEWAYS)
    assert browser.execute_script(STATUS_IN_VIEW)
    statuses = {cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#result_list td.field-status")}
    assert {"Pending", "Failed"} <= statuses
