"""Signing (Standard Webhooks) and sending one message over HTTP, safely.

The address a host resolves to is checked, then that very address is connected to
(the Host header and TLS name stay the endpoint's), so a DNS answer that changes
between the check and the connection (rebinding) cannot reach a private network.

An attempt has ``WEBHOOK_TIMEOUT_SECONDS`` from its start to the last byte of the answer:
socket timeouts bound each read, not their sum, so a receiver that trickles its answer a
byte at a time would hold the worker indefinitely. ``_Deadline`` shuts the connection at the
deadline and the attempt fails (and is retried) whatever arrived by then.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import ipaddress
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.util import parse_url

from serverops.conf import serverops_setting

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
RESPONSE_KEPT = 1024
USER_AGENT = "ServerOps-Webhooks/1"
PRIVATE_NETWORKS_HINT = (
    "for development against a receiver on this machine, set WEBHOOK_ALLOW_PRIVATE_NETWORKS=1 "
    "for create_webhook and for the worker (deliver_webhooks, make run) alike"
)


class AddressRefused(Exception):
    """The URL is not one webhooks may be sent to; the message says why.

    ``private_network`` says the only fault is the address: ``WEBHOOK_ALLOW_PRIVATE_NETWORKS``
    would let it through (in development).
    """

    def __init__(self, message: str, *, private_network: bool = False) -> None:
        super().__init__(message)
        self.private_network = private_network


def new_secret() -> str:
    """``whsec_`` and base64 of 24 random bytes, as the Standard Webhooks libraries read it."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,`` and base64 of HMAC-SHA256 of ``{id}.{timestamp}.{body}``."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def _refusal(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind in ("loopback", "private", "link_local", "multicast", "reserved", "unspecified"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    # Shared address space (100.64.0.0/10) and the like: not private, not reachable either.
    return None if ip.is_global else "non-global"


def check_url(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, address)`` for ``url``: the address to connect to, checked.

    Raises ``AddressRefused`` for a scheme other than http(s), a host that does not
    resolve, or one that resolves to any private, loopback, link-local, multicast,
    reserved or unspecified address, unless ``WEBHOOK_ALLOW_PRIVATE_NETWORKS`` is on.
    """
    try:
        parts = parse_url(url)
    except ValueError:
        raise AddressRefused("not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.host:
        raise AddressRefused("the URL must be http:// or https:// with a host")
    if parts.auth is not None or "@" in urlsplit(url).netloc:
        # Shown in lists and logs, and sent to nobody: a secret has no place in the URL.
        raise AddressRefused("the URL must not hold credentials (user:password@); sign-in is by the signature")
    host = parts.host.strip("[]")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise AddressRefused(f"{host} does not resolve") from None
    addresses = list(dict.fromkeys(str(answer[4][0]) for answer in answers))
    if not serverops_setting("WEBHOOK_ALLOW_PRIVATE_NETWORKS"):
        for address in addresses:
            reason = _refusal(address)
            if reason is not None:
                raise AddressRefused(
                    f"{host} resolves to a {reason} address ({address}); refused", private_network=True
                )
    return parts.scheme, host, port, addresses[0]


# The answer's headers a delivery decides by (Discord's rate limits), kept with the outcome.
KEPT_HEADERS = ("retry-after", "x-ratelimit-remaining", "x-ratelimit-reset-after")


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    response: str
    error: str
    duration_ms: int
    headers: dict[str, str] = field(default_factory=dict)
    # The attempt never left: the address was refused (``check_url``), so no request was made.
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _Deadline:
    """Shuts the attempt's connection down at a wall-clock moment (``time.monotonic()``).

    A blocked read then returns at once, whatever the socket's own timeout; ``fired`` says the
    attempt ran out of time, so a short answer cut off here is never taken for a whole one.
    """

    def __init__(self, at: float) -> None:
        self.at = at
        self.fired = False
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._timer = threading.Timer(max(at - time.monotonic(), 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return max(self.at - time.monotonic(), 0.001)

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.fired:
                self._shut()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            self._shut()

    def _shut(self) -> None:
        if self._sock is not None:
            # The plain socket's shutdown, also under TLS: no TLS close message, just the end.
            with contextlib.suppress(OSError):  # already closed
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._sock = None


class _WatchedHTTPConnection(HTTPConnection):
    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def connect(self) -> None:
        super().connect()
        self.deadline.watch(self.sock)


class _WatchedHTTPSConnection(HTTPSConnection):
    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def connect(self) -> None:
        super().connect()
        self.deadline.watch(self.sock)


class _Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _TLSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def send(*, url: str, secret: str, message_id: str, body: bytes) -> Outcome:
    """POST ``body`` to ``url`` once, signed; never follows a redirect, keeps 1 KiB of the answer.

    The whole attempt, connecting to reading the answer's last byte, has ``WEBHOOK_TIMEOUT_SECONDS``.
    """
    started = time.monotonic()
    limit = float(serverops_setting("WEBHOOK_TIMEOUT_SECONDS"))

    def outcome(
        status_code: int | None = None,
        response: bytes = b"",
        error: str = "",
        headers: dict[str, str] | None = None,
        refused: bool = False,
    ) -> Outcome:
        elapsed = round((time.monotonic() - started) * 1000)
        text = response.decode("utf-8", "replace")
        return Outcome(status_code, text, error[:300], elapsed, headers or {}, refused)

    try:
        scheme, host, port, address = check_url(url)
    except AddressRefused as exc:
        hint = f"; {PRIVATE_NETWORKS_HINT}" if exc.private_network else ""
        return outcome(error=f"refused: {exc}{hint}", refused=True)
    timestamp = int(time.time())
    default_port = 443 if scheme == "https" else 80
    headers = {
        "Host": host if port == default_port else f"{host}:{port}",
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret=secret, message_id=message_id, timestamp=timestamp, body=body),
    }
    deadline = _Deadline(started + limit)
    # Connecting (and the TLS handshake) is bounded by the socket timeout, each read by the deadline.
    timeout = urllib3.Timeout(total=deadline.remaining())
    pool: urllib3.HTTPConnectionPool
    if scheme == "https":
        # Connected to the checked address; the certificate must still name the endpoint's host.
        pool = _TLSPool(
            address,
            port,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs="CERT_REQUIRED",
            timeout=timeout,
            deadline=deadline,
        )
    else:
        pool = _Pool(address, port, timeout=timeout, deadline=deadline)
    path = parse_url(url).request_uri
    try:
        response = pool.urlopen(
            "POST", path, body=body, headers=headers, redirect=False, retries=False, preload_content=False
        )
        try:
            head = response.read(RESPONSE_KEPT)
        finally:
            response.close()
        if deadline.fired:
            raise TimeoutError
        kept = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
        return outcome(response.status, head[:RESPONSE_KEPT], headers=kept)
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        if deadline.fired:
            return outcome(error=f"Timeout: no complete answer within {limit:g} s of the attempt's start")
        # Whatever the endpoint does, the attempt ends with an outcome, so the message is retried or failed.
        return outcome(error=f"{type(exc).__name__}: {exc}")
    finally:
        deadline.cancel()
        pool.close()
