"""Which parser reads a request body: the body's declared type, matched exactly.

DRF's default matching treats a wildcard on either side as a match, so a body sent as
``*/*``, ``application/*`` or ``*/json`` would be read as JSON. A request's
``Content-Type`` names what it sends, never a pattern: here it must name the parser's
type exactly, and a JSON body may carry no parameter but ``charset=utf-8``. Anything
else is a 415.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from typing import Any

from django.utils.http import parse_header_parameters
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.request import Request

JSON = "application/json"


def _is_utf8(charset: str) -> bool:
    try:
        return codecs.lookup(charset).name == "utf-8"
    except LookupError:
        return False


def _media_type(header: str) -> tuple[str, dict[str, str]] | None:
    try:
        media_type, params = parse_header_parameters(header)
    except ValueError:
        return None
    return media_type.strip(), params


def json_parameters_problem(content_type: str) -> str | None:
    """Why a ``Content-Type`` naming JSON was refused for its parameters (another charset, an
    unknown parameter), or None when it does not name JSON or its parameters are fine."""
    sent = _media_type(content_type) if len(content_type) <= StrictContentNegotiation.max_media_type_length else None
    if sent is None or sent[0] != JSON:
        return None
    params = sent[1]
    if set(params) - {"charset"}:
        unknown = sorted(set(params) - {"charset"})[0]
        return f"request body must be sent as {JSON} with no parameter but charset=utf-8 (got {unknown})"
    if not _is_utf8(params.get("charset", "utf-8")):
        return f"request body must be UTF-8: send {JSON} or {JSON}; charset=utf-8, not charset={params['charset']}"
    return None


class StrictContentNegotiation(DefaultContentNegotiation):
    # DRF's own bound on a Content-Type it will look at (its stubs do not declare it).
    max_media_type_length = 256

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> Any:
        content_type = request.content_type
        if not content_type or len(content_type) > self.max_media_type_length:
            return None
        sent = _media_type(content_type)
        if sent is None:
            return None
        media_type, params = sent
        for parser in parsers:
            declared = _media_type(parser.media_type)
            if declared is None or declared[0] != media_type:
                continue
            if media_type == JSON and (set(params) - {"charset"} or not _is_utf8(params.get("charset", "utf-8"))):
                continue
            return parser
        return None
