"""A moderator works the queue in a real browser at 1280 px (docs/operations.md, "The queue"):
claims the most urgent case, writes a note, hands evidence review to a colleague, closes it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from cases.demo import demo_seed
from cases.models import Case, CaseEvent, Note, Priority, Status
from tests.browser.pages import click_through
from tests.browser.test_admin_browser import SCROLLS_SIDEWAYS, log_in
from tokens.models import Member, Role

pytestmark = [pytest.mark.browser, pytest.mark.any_database, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-staff-password"


def moderator(django_user_model: type[User], organisation: Any, username: str, first: str, last: str) -> Member:
    user = django_user_model.objects.create_user(
        username, password=PASSWORD, is_staff=True, first_name=first, last_name=last
    )
    return Member.objects.create(organisation=organisation, user=user, role=Role.MODERATOR)


def test_moderator_claims_notes_hands_over_and_closes_the_most_urgent_case(
    browser: Any, screenshot: Any, live_server: Any, django_user_model: type[User]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    demo = demo_seed()
    organisation = demo.project.organisation
    mia = moderator(django_user_model, organisation, "mia", "Mia", "Reyes")
    cole = moderator(django_user_model, organisation, "cole", "Cole", "Baptiste")
    browser.set_window_size(1280, 900)
    base = live_server.url
    log_in(browser, base, "mia", PASSWORD)

    # The queue: open cases, the most urgent first, then the oldest.
    browser.get(base + reverse("admin:cases_case_changelist"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    queue = Case.objects.filter(status=Status.OPEN, priority=Priority.URGENT, assignee__isnull=True)
    urgent = queue.order_by("created_at", "id").first()
    assert urgent is not None
    assert rows[0].find_element(By.CSS_SELECTOR, f"span[title='{urgent.pk}']")
    assert rows[0].find_element(By.CSS_SELECTOR, ".case-priority-urgent").text == "Urgent"
    screenshot("queue-1280")
    assert not browser.execute_script(SCROLLS_SIDEWAYS)

    # Claim it: tick the first row, run the action.
    rows[0].find_element(By.CSS_SELECTOR, "input.action-select").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("claim_cases")
    click_through(browser, browser.find_element(By.NAME, "index"))
    assert "Claimed 1 case(s)." in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert Case.objects.get(pk=urgent.pk).assignee_id == mia.pk
    browser.get(base + reverse("admin:cases_case_changelist") + "?assignee=me")
    mine = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(mine) == 1 and "→ Mia Reyes" in mine[0].text

    # A note, then evidence review handed to a colleague.
    browser.get(base + reverse("admin:cases_case_change", args=[urgent.pk]))
    browser.find_element(By.NAME, "new_note").send_keys(
        "Demo reviewed: snaps through smoke at 0:41.\nNeeds a second look."
    )
    click_through(browser, browser.find_element(By.NAME, "_continue"))
    assert "was changed successfully" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert "Demo reviewed: snaps through smoke" in browser.find_element(By.CSS_SELECTOR, ".case-notes").text
    assignee = Select(browser.find_element(By.NAME, "assignee"))
    assert {option.text for option in assignee.options} >= {"Mia Reyes (moderator)", "Cole Baptiste (moderator)"}
    assignee.select_by_value(cole.pk)
    labels = browser.find_element(By.NAME, "labels")
    labels.clear()
    labels.send_keys("cheating, evidence review")
    browser.find_element(By.NAME, "new_note").send_keys("Cole: please check the second clip.")
    click_through(browser, browser.find_element(By.NAME, "_continue"))
    assert "was changed successfully" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    history = browser.find_element(By.CSS_SELECTOR, "table.case-history").text
    assert "Cole Baptiste" in history and "Mia Reyes" in history and "Cole: please check" in history
    assert "verified" in browser.find_element(By.CSS_SELECTOR, ".chain-state").text
    assert not browser.execute_script(SCROLLS_SIDEWAYS)
    browser.execute_script("document.querySelector('.case-notes-section').scrollIntoView()")
    screenshot("case-notes-1280", full_page=True)

    # Closed, with everything on record.
    Select(browser.find_element(By.NAME, "status")).select_by_value(Status.CLOSED)
    click_through(browser, browser.find_element(By.NAME, "_save"))
    # The saved list's message: the POST is done before the row is read.
    assert "was changed successfully" in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    stored = Case.objects.get(pk=urgent.pk)
    assert (stored.status, stored.assignee_id) == (Status.CLOSED, cole.pk)
    assert stored.labels == ["cheating", "evidence review"]
    assert [note.author_name for note in Note.objects.filter(case=stored)] == ["mia", "mia"]
    changes = [event.changes for event in CaseEvent.objects.filter(case=stored).order_by("created_at", "id")][1:]
    assert changes[0] == {"assignee": {"from": None, "to": mia.pk}}
    assert {"assignee", "labels"} <= set(changes[2]) and "note" in changes[3]
    assert changes[-1] == {"status": {"from": "open", "to": "closed"}}
