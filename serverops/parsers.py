"""The API's only parser: JSON, UTF-8, bounded in depth, never a 500.

The size bound is Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``: DRF reads JSON bodies
through ``request.body``, which enforces it, and the exception handler answers 413.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


class StrictJSONParser(JSONParser):
    """Malformed JSON, bytes that are not UTF-8, ``NaN``/``Infinity`` and nesting deep
    enough to exhaust the recursion limit are all a 400."""

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
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError("request body is nested too deeply") from None
        except ValueError as exc:
            raise ParseError(f"request body is not valid JSON: {exc}") from None
