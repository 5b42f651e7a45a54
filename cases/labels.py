"""A case's labels (docs/api.md#working-a-case): at most 10, each 1–40 characters without control
characters, none repeated (compared case-insensitively)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError

from serverops.exceptions import InvalidValue

from .validators import validate_title_characters

LABELS_MAX = 10
LABEL_MAX_LENGTH = 40


def invalid(message: str) -> InvalidValue:
    return InvalidValue("labels", message)


def clean_labels(value: Any) -> list[str]:
    """``labels`` as sent, in the order sent; a 400 naming ``labels`` for anything outside the rules."""
    if not isinstance(value, list):
        raise invalid("must be a list of strings")
    if len(value) > LABELS_MAX:
        raise invalid(f"at most {LABELS_MAX} labels")
    seen: dict[str, str] = {}
    for item in value:
        if not isinstance(item, str):
            raise invalid("must be a list of strings")
        if not 1 <= len(item) <= LABEL_MAX_LENGTH:
            raise invalid(f"each label is 1 to {LABEL_MAX_LENGTH} characters")
        try:
            validate_title_characters(item)
        except DjangoValidationError as exc:
            raise invalid(f"label {exc.messages[0]}") from None
        folded = item.casefold()
        if folded in seen:
            raise invalid(f"{item[:40]!r} repeats {seen[folded][:40]!r} (labels are compared case-insensitively)")
        seen[folded] = item
    return list(value)
