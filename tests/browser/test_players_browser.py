"""A moderator in a real browser: pastes a FiveM hex Steam id into the case list's search, lands
on that player's cases, opens the player's page, and unlinks an identifier linked by mistake."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from cases.services import Actor, case_create
from cases.subjects import clean_subjects
from players.models import PlayerEvent, PlayerIdentifier
from tests.browser.pages import click_through
from tests.browser.test_admin_browser import log_in
from tests.factories import ProjectFactory
from tokens.models import Mode

pytestmark = [pytest.mark.browser, pytest.mark.any_database, pytest.mark.django_db(transaction=True)]

STEAM = "steam:76561197960287930"
FIVEM_HEX = "steam:1100001000056ba"
DISCORD = "discord:80351110224678912"


def test_moderator_finds_a_player_by_fivem_hex_and_unlinks_an_identifier(
    browser: Any, screenshot: Any, live_server: Any, django_user_model: type[User]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    project = ProjectFactory(name="EU-1 FiveM")
    actor = Actor.system("browser test")
    subject = {"identifiers": [STEAM, "license:" + "c" * 40, DISCORD, "ip:203.0.113.7"], "name": "Vex_TTV"}
    titles = ["Aimbot at the docks", "Vehicle spam at Legion Square", "Abusive voice chat"]
    for title in titles:
        case_create(project=project, mode=Mode.LIVE, title=title, subjects=clean_subjects([subject]), actor=actor)
    case_create(
        project=project,
        mode=Mode.LIVE,
        title="Someone else entirely",
        subjects=clean_subjects([{"identifiers": ["steam:76561197960265729"]}]),
        actor=actor,
    )
    django_user_model.objects.create_user("mod", password="a-long-staff-password", is_staff=True, is_superuser=True)
    base = live_server.url
    browser.set_window_size(1280, 900)
    log_in(browser, base, "mod", "a-long-staff-password")

    # The case list, searched by the hex spelling FiveM shows: the Steam64 player's cases only.
    browser.get(base + reverse("admin:cases_case_changelist"))
    search = browser.find_element(By.ID, "searchbar")
    search.send_keys(FIVEM_HEX, Keys.ENTER)
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 3, browser.page_source[:2000]
    listed = browser.find_element(By.ID, "result_list").text
    assert all(title in listed for title in titles) and "Someone else" not in listed
    screenshot("players-case-search-1280")

    # A case, its subjects, and the player's page.
    click_through(browser, browser.find_element(By.LINK_TEXT, "Aimbot at the docks"))
    player = PlayerIdentifier.objects.get(identifier=STEAM).player
    player_page = reverse("admin:players_player_change", args=[player.pk])
    click_through(browser, browser.find_element(By.CSS_SELECTOR, f"a[href='{player_page}']"))
    page = browser.find_element(By.ID, "content").text
    assert STEAM in page and DISCORD in page and "Vex_TTV" in page
    assert all(title in page for title in titles)
    assert "203.0.113.7" not in browser.page_source
    screenshot("players-player-page-1280", full_page=True)

    # Unlink the Discord id, linked by mistake: it moves to a new player, recorded here.
    row = PlayerIdentifier.objects.get(identifier=DISCORD)
    unlink = reverse("admin:players_player_unlink", args=[player.pk, row.pk])
    click_through(browser, browser.find_element(By.CSS_SELECTOR, f"a.unlink-identifier[href='{unlink}']"))
    click_through(browser, browser.find_element(By.ID, "confirm-unlink"))
    message = browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert "moved to a new player" in message, message
    moved = PlayerIdentifier.objects.get(pk=row.pk)
    assert moved.player_id != player.pk
    assert PlayerEvent.objects.get(player=player, kind="unlinked").details == {
        "identifier": DISCORD,
        "to": moved.player_id,
    }
    assert DISCORD not in browser.find_element(By.CSS_SELECTOR, ".field-identifier_table").text
    screenshot("players-unlinked-1280", full_page=True)
