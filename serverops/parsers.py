"""The API's only parser: JSON, UTF-8, bounded in size and depth, never a 500."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from .errors import PayloadTooLarge


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


class StrictJSONParser(JSONParser):
    """Parses a JSON body of at most ``SERVEROPS["MAX_BODY_BYTES"]``.

    Reads through the stream rather than ``request.body`` so the size check happens
    while reading, whatever ``Content-Length`` claimed. Malformed JSON, bytes that are
    not UTF-8, ``NaN``/``Infinity`` and nesting deep enough to exhaust the recursion
    limit are all a 400.
    """

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit: int = settings.SERVEROPS["MAX_BODY_BYTES"]
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("request body is not valid UTF-8") from None
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError("request body is nested too deeply") from None
        except ValueError as exc:
            raise ParseError(f"request body is not valid JSON: {exc}") from None
