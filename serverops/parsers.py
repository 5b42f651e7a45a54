"""The API's only parser: JSON, UTF-8, bounded in depth, never a 500.

The size bound is Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``: DRF reads JSON bodies
through ``request.body``, which enforces it, and the exception handler answers 413.
Every refusal speaks the API's language: where the JSON breaks (line and column), never
the runtime's own wording.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

BOM = "\ufeff"
# Python refuses to turn longer digit strings into an int (sys.get_int_max_str_digits);
# no field of this API takes a number anywhere near that long.
MAX_INTEGER_DIGITS = 4300


def whole_number(text: str, *, max_digits: int = 18) -> int | None:
    """``text`` as a non-negative integer when it is 1 to ``max_digits`` ASCII digits, else None.

    Every number read from a header or a parameter goes through here: ``str.isdigit`` also
    accepts characters ``int`` refuses ("²") and ``int`` refuses more than 4,300 digits, so
    neither can reach a conversion and fail as a 500.
    """
    if not (0 < len(text) <= max_digits and text.isascii() and text.isdigit()):
        return None
    return int(text)


class _TooLarge:
    """Stands in for a number too large to hold, so the field that carries it can be named."""


TOO_LARGE = _TooLarge()


def _refuse_constant(name: str) -> None:
    raise ValueError(name)


def _parse_int(text: str) -> int | _TooLarge:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        return TOO_LARGE
    return int(text)


def _parse_float(text: str) -> float | _TooLarge:
    value = float(text)
    return TOO_LARGE if math.isinf(value) else value


def _too_large_at(value: Any, path: str | None = None) -> str | None:
    """The dotted path of the first too-large number in ``value`` ("" for the body itself)."""
    if value is TOO_LARGE:
        return path or ""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _too_large_at(item, str(key) if path is None else f"{path}.{key}")
        if found is not None:
            return found
    return None


class StrictJSONParser(JSONParser):
    """Malformed JSON, bytes that are not UTF-8, a byte order mark, ``NaN``/``Infinity``,
    numbers too large to hold and nesting deep enough to exhaust the recursion limit are
    all a 400."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            text = stream.read().decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("request body is not valid UTF-8") from None
        if text.startswith(BOM):
            raise ParseError("request body must not start with a byte order mark (BOM); send plain UTF-8")
        try:
            data = json.loads(text, parse_constant=_refuse_constant, parse_int=_parse_int, parse_float=_parse_float)
        except RecursionError:
            raise ParseError("request body is nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise ParseError(f"request body is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
        except ValueError as exc:
            # Only _refuse_constant raises a plain ValueError here.
            raise ParseError(f"request body is not valid JSON: {exc} is not a JSON number") from None
        where = _too_large_at(data)
        if where is not None:
            if where == "":
                raise ParseError("request body is a number too large to process")
            raise ValidationError({where: ["number too large"]})
        return data
