"""Public identifiers: a type prefix and a ULID, e.g. ``c_01JD3Z8W6V4M2Q9T7K5X1B0N3R``.

Each ``new_*`` function is a model-field default (migrations refer to it by name).
"""

import re

from ulid import ULID

ULID_PATTERN = "[0-9A-HJKMNP-TV-Z]{26}"


def id_regex(prefix: str) -> re.Pattern[str]:
    return re.compile(f"{prefix}_{ULID_PATTERN}")


def _new(prefix: str) -> str:
    return f"{prefix}_{ULID()}"


def new_organisation_id() -> str:
    return _new("org")


def new_project_id() -> str:
    return _new("p")


def new_token_id() -> str:
    return _new("tok")


def new_case_id() -> str:
    return _new("c")


def new_file_id() -> str:
    return _new("f")


def new_event_id() -> str:
    return _new("ev")


def new_webhook_id() -> str:
    return _new("wh")


def new_message_id() -> str:
    return _new("msg")


def new_player_id() -> str:
    return _new("pl")


def new_member_id() -> str:
    return _new("mem")


def new_note_id() -> str:
    return _new("nt")
