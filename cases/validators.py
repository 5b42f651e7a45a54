"""Text rules of docs/api.md#cases shared by the model, the API serializer and the admin forms."""

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


# Every Unicode space (category Zs: the ASCII space, NBSP, U+1680, U+2000–U+200A, U+202F,
# U+205F, U+3000), the line and paragraph separators, and the invisible characters that
# read as nothing at the edge of a title (zero-width space, word joiner, BOM, the Mongolian
# vowel separator that was once a space). Control characters are not trimmed: a title may
# not contain them at all, so a trailing tab or newline is refused, not hidden.
TITLE_SPACES = (
    "\u0020\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
    "\u2028\u2029"
    "\u200b\u2060\ufeff\u180e"
)


def normalise_title(value: str) -> str:
    """Titles are stored without surrounding spaces of any script; the length rules apply
    after trimming, and a title of nothing but spaces is blank."""
    return value.strip(TITLE_SPACES)
