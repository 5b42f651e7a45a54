"""A local fake Discord webhook: checks every embed against Discord's limits as Discord would
(refusing with a 400 and Discord's kind of body), and rate-limits with a 429 when told to."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LIMITS = {"title": 256, "description": 4096, "field_name": 256, "field_value": 1024, "footer": 2048, "author": 256}
FIELDS_MAX = 25
TOTAL_MAX = 6000


def units(text: str) -> int:
    """Length as JavaScript counts it (UTF-16 code units): never less than Python's ``len``."""
    return len(text.encode("utf-16-le")) // 2


def violations(message: dict[str, Any]) -> list[str]:
    """What Discord would refuse in ``message`` (empty when it would post it)."""
    embeds = message.get("embeds")
    if not isinstance(embeds, list) or not 1 <= len(embeds) <= 10:
        return ["embeds: 1 to 10"]
    found = []
    for n, embed in enumerate(embeds):
        pieces = {
            "title": embed.get("title", ""),
            "description": embed.get("description", ""),
            "footer": embed.get("footer", {}).get("text", ""),
            "author": embed.get("author", {}).get("name", ""),
        }
        for name, text in pieces.items():
            if units(text) > LIMITS[name]:
                found.append(f"embeds.{n}.{name}: {units(text)} > {LIMITS[name]}")
        fields = embed.get("fields", [])
        if len(fields) > FIELDS_MAX:
            found.append(f"embeds.{n}.fields: {len(fields)} > {FIELDS_MAX}")
        for m, field in enumerate(fields):
            if not field.get("name") or not field.get("value"):
                found.append(f"embeds.{n}.fields.{m}: empty")
            if units(field.get("name", "")) > LIMITS["field_name"]:
                found.append(f"embeds.{n}.fields.{m}.name")
            if units(field.get("value", "")) > LIMITS["field_value"]:
                found.append(f"embeds.{n}.fields.{m}.value")
        total = sum(units(text) for text in pieces.values())
        total += sum(units(f.get("name", "")) + units(f.get("value", "")) for f in fields)
        if total > TOTAL_MAX:
            found.append(f"embeds.{n}: {total} characters > {TOTAL_MAX}")
    return found


class FakeDiscord:
    """``rate_limited`` requests are answered 429 with ``retry_after`` in the JSON body and
    ``retry_after_header`` (default: the same) in ``Retry-After`` first; ``refuse_next`` requests
    get Discord's 400 for a bad form body whatever they hold; then each message is checked: a 400
    naming what is wrong, or a 204 and it is kept in ``posted``. ``headers`` go with every 2xx
    (``X-RateLimit-*``)."""

    def __init__(self, *, rate_limited: int = 0, retry_after: float = 60.0) -> None:
        self.rate_limited = rate_limited
        self.retry_after = retry_after
        self.retry_after_header: float | None = None
        self.refuse_next = 0
        self.headers: dict[str, str] = {}
        self.posted: list[dict[str, Any]] = []
        self.refused: list[list[str]] = []
        self.requests = 0
        lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    fake.requests += 1
                    if fake.rate_limited:
                        fake.rate_limited -= 1
                        answer = {"message": "You are being rate limited.", "retry_after": fake.retry_after}
                        header = fake.retry_after if fake.retry_after_header is None else fake.retry_after_header
                        self._answer(429, answer, {"Retry-After": str(int(header))})
                        return
                    message = json.loads(body)
                    problems = violations(message)
                    if fake.refuse_next:
                        fake.refuse_next -= 1
                        problems = ["embeds.0.thumbnail.url: Not a well formed URL."]
                    if problems:
                        fake.refused.append(problems)
                        self._answer(400, {"code": 50035, "message": "Invalid Form Body", "errors": problems}, {})
                        return
                    fake.posted.append(message)
                    self._answer(204, None, fake.headers)

            def _answer(self, status: int, body: Any, headers: dict[str, str]) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/webhooks/1234/token"
