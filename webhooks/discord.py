"""Events as Discord messages: one embed per event, always inside Discord's limits.

Discord does not speak Standard Webhooks: it takes ``{"embeds": [...]}`` and refuses (400) an
embed past any of its limits (title 256, description 4,096, field name 256, field value 1,024,
footer 2,048, 25 fields, 6,000 characters in all). Text from cases is whatever moderators and
servers typed, so every piece is cut to its limit with an ellipsis, then the whole to 6,000: an
event is never refused for being long. Lengths are counted in UTF-16 code units, which is at
least the number of characters however Discord counts them, and a cut never splits a character.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from django.urls import reverse

from serverops.conf import serverops_setting

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FIELDS_MAX = 25
FOOTER_MAX = 2048
AUTHOR_MAX = 256
TOTAL_MAX = 6000
ELLIPSIS = "…"

# Colours by status, a high priority overriding them (red): open blue, closed green, archived grey.
STATUS_COLOURS = {"open": 0x3498DB, "closed": 0x2ECC71, "archived": 0x95A5A6}
PRIORITY_COLOURS = {"urgent": 0xE74C3C, "high": 0xE67E22}
FILE_COLOURS = {"file.created": 0x3498DB, "file.blocked": 0xE74C3C, "file.deleted": 0x95A5A6}
OTHER_COLOUR = 0x9B59B6


def length(text: str) -> int:
    """``text``'s length in UTF-16 code units (a character outside the BMP counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def cut(text: str, limit: int) -> str:
    """``text`` if it fits ``limit``, else its longest start that fits with an ellipsis after it."""
    if length(text) <= limit:
        return text
    budget, kept = limit - 1, []
    for character in text:
        units = 2 if ord(character) > 0xFFFF else 1
        if units > budget:
            break
        budget -= units
        kept.append(character)
    return "".join(kept) + ELLIPSIS


def _text_length(embed: dict[str, Any]) -> int:
    """What Discord counts against the 6,000: title, description, fields, footer and author."""
    total = length(embed.get("title", "")) + length(embed.get("description", ""))
    total += sum(length(field["name"]) + length(field["value"]) for field in embed.get("fields", []))
    total += length(embed.get("footer", {}).get("text", "")) + length(embed.get("author", {}).get("name", ""))
    return total


def fit(embed: dict[str, Any]) -> dict[str, Any]:
    """``embed`` cut to Discord's limits: each piece to its own, then the description, then the
    last fields, until the whole is within 6,000. Empty names and values (which Discord refuses)
    become a dash."""
    embed = dict(embed)
    for key, limit in (("title", TITLE_MAX), ("description", DESCRIPTION_MAX)):
        if key in embed:
            embed[key] = cut(embed[key], limit)
    if "footer" in embed:
        embed["footer"] = {**embed["footer"], "text": cut(embed["footer"]["text"], FOOTER_MAX)}
    if "author" in embed:
        embed["author"] = {**embed["author"], "name": cut(embed["author"]["name"], AUTHOR_MAX)}
    embed["fields"] = [
        {
            **field,
            "name": cut(field["name"] or "-", FIELD_NAME_MAX),
            "value": cut(field["value"] or "-", FIELD_VALUE_MAX),
        }
        for field in embed.get("fields", [])[:FIELDS_MAX]
    ]
    excess = _text_length(embed) - TOTAL_MAX
    if excess > 0 and embed.get("description"):
        description = embed["description"]
        embed["description"] = cut(description, max(length(description) - excess, 1))
        excess = _text_length(embed) - TOTAL_MAX
    while excess > 0 and embed["fields"]:
        last = embed["fields"].pop()
        excess -= length(last["name"]) + length(last["value"])
    if excess > 0 and embed.get("title"):
        embed["title"] = cut(embed["title"], max(length(embed["title"]) - excess, 1))
    return embed


def _admin_url(viewname: str, object_id: str) -> str:
    return str(serverops_setting("SITE_URL")).rstrip("/") + reverse(viewname, args=[object_id])


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _changes(changes: dict[str, Any]) -> str:
    return "\n".join(
        f"**{name}**: {_shown(change['from'])} → {_shown(change['to'])}" for name, change in changes.items()
    )


def _person(value: Any) -> str:
    """An assignee or author as the body names it: a name, or an object with one."""
    if isinstance(value, dict):
        return str(value.get("name") or value.get("username") or value.get("id") or "")
    return _shown(value)


def _subjects(case: dict[str, Any]) -> str:
    return ", ".join(f"{subject.get('name') or subject['player']} ({subject['role']})" for subject in case["subjects"])


def _thumbnail(case: dict[str, Any]) -> str | None:
    """The URL of the case's first image attachment that anyone may open (public, not blocked)."""
    for file in case["attachments"]:
        if (
            file["visibility"] == "public"
            and file["abuse_status"] != "blocked"
            and file["content_type"].startswith("image/")
            and file["url"]
        ):
            return str(file["url"])
    return None


def _case_embed(body: dict[str, Any]) -> dict[str, Any]:
    case = body["data"]["case"]
    embed: dict[str, Any] = {
        "url": _admin_url("admin:cases_case_change", case["id"]),
        "color": PRIORITY_COLOURS.get(case.get("priority") or "", STATUS_COLOURS.get(case["status"], OTHER_COLOUR)),
    }
    fields = [{"name": "Status", "value": case["status"], "inline": True}]
    if case.get("priority"):
        fields.append({"name": "Priority", "value": _shown(case["priority"]), "inline": True})
    if "assignee" in case:
        fields.append({"name": "Assignee", "value": _person(case["assignee"]) if case["assignee"] else "(nobody)"})
    if case["subjects"]:
        fields.append({"name": "Subjects", "value": _subjects(case)})
    if body["type"] == "case.note_added":
        note = body["data"]["note"]
        embed["title"] = f"Note on case: {case['title']}"
        embed["description"] = _shown(note.get("body", note.get("text", "")))
        if note.get("author"):
            embed["author"] = {"name": _person(note["author"])}
    else:
        changes = body["data"]["changes"]
        created = body["type"] == "case.created"
        embed["title"] = f"{'New case' if created else 'Case updated'}: {case['title']}"
        embed["description"] = case["description"] if created else _changes(changes)
        actor = body["data"]["actor"]
        fields.append({"name": "By", "value": f"{actor['name']} ({actor['type']})", "inline": True})
    embed["fields"] = fields
    thumbnail = _thumbnail(case)
    if thumbnail:
        embed["thumbnail"] = {"url": thumbnail}
    return embed


FILE_TITLES = {"file.created": "File uploaded", "file.blocked": "File blocked", "file.deleted": "File deleted"}


def _file_embed(body: dict[str, Any]) -> dict[str, Any]:
    file = body["data"]["file"]
    embed: dict[str, Any] = {
        "title": f"{FILE_TITLES[body['type']]}: {file['original_name']}",
        "color": FILE_COLOURS[body["type"]],
        "fields": [
            {"name": "Type", "value": file["content_type"], "inline": True},
            {"name": "Size", "value": f"{file['size']:,} bytes", "inline": True},
            {"name": "Tags", "value": ", ".join(file["tags"]) or "(none)", "inline": True},
        ],
    }
    if body["type"] != "file.deleted":
        embed["url"] = _admin_url("admin:media_file_change", file["id"])
    return embed


def _merge_embed(body: dict[str, Any]) -> dict[str, Any]:
    player = body["data"]["player"]
    name = player["names"][0] if player["names"] else player["id"]
    return {
        "title": f"Players merged into {name}",
        "url": _admin_url("admin:players_player_change", player["id"]),
        "color": OTHER_COLOUR,
        "description": "Merged: " + ", ".join(body["data"]["merged"]),
        "fields": [{"name": "Identifiers", "value": ", ".join(player["identifiers"]) or "(none)"}],
    }


def _test_embed(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": "Test event from ServerOps",
        "description": "This endpoint receives the project's events. Nothing happened: this is a test.",
        "color": OTHER_COLOUR,
    }


def message(body: dict[str, Any]) -> dict[str, Any]:
    """The Discord message for the event ``body`` (docs/api.md#discord): one embed, within the
    limits, mentioning nobody (a case title saying ``@everyone`` pings no one)."""
    kind = body["type"]
    if kind.startswith("case."):
        embed = _case_embed(body)
    elif kind.startswith("file."):
        embed = _file_embed(body)
    elif kind == "player.merged":
        embed = _merge_embed(body)
    else:
        embed = _test_embed(body)
    embed["timestamp"] = body["created_at"]
    embed["footer"] = {"text": f"{body['id']} · {kind} · {body['mode']}"}
    return {"embeds": [fit(embed)], "allowed_mentions": {"parse": []}}


def rate_limit_wait(status_code: int | None, response: str, headers: dict[str, str]) -> float | None:
    """Seconds before Discord takes anything more from this webhook, or None.

    A 429's wait is the longer of its JSON body's ``retry_after`` and its ``Retry-After``
    header; a 2xx with ``X-RateLimit-Remaining: 0`` waits ``X-RateLimit-Reset-After``.
    """
    waits: list[float] = []
    if status_code == 429:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            waits.append(float(json.loads(response)["retry_after"]))
        with contextlib.suppress(ValueError):
            waits.append(float(headers.get("retry-after", "")))
        return max(waits, default=1.0)
    if headers.get("x-ratelimit-remaining") == "0":
        try:
            return float(headers.get("x-ratelimit-reset-after", ""))
        except ValueError:
            return None
    return None


def retrying_can_help(status_code: int | None) -> bool:
    """Whether another try of the same body may succeed: not after a 4xx other than 408 and 429
    (Discord refused this very body, or the webhook is gone or not ours)."""
    return status_code is None or not (400 <= status_code < 500) or status_code in (408, 429)
