"""Text rules of §4 shared by the model, the API serializer and the admin forms."""

import re

from django.core.exceptions import ValidationError

# Unicode category Cc: C0 controls, DEL and C1 controls.
_TITLE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# The same, less the three that multi-line text needs: \t, \n, \r.
_DESCRIPTION_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _refuse(match: re.Match[str] | None, allowed: str) -> None:
    if match is not None:
        raise ValidationError(
            f"must not contain control characters{allowed} (found U+{ord(match.group()):04X})",
            code="control_character",
        )


def validate_title_characters(value: str) -> None:
    _refuse(_TITLE_FORBIDDEN.search(value), "")


def validate_description_characters(value: str) -> None:
    _refuse(_DESCRIPTION_FORBIDDEN.search(value), " other than tab, newline and carriage return")


def normalise_title(value: str) -> str:
    """Titles are stored without surrounding spaces; the length rules apply after trimming."""
    return value.strip(" ")
