"""Signing and sending one webhook request, and the policy of which URLs may be called.

The host is resolved once per attempt, every address it resolves to is checked, and the connection goes to
the checked address (the name stays in the Host header, the TLS server name and the certificate check), so
a name that resolves to a public address when checked and to a private one a moment later (DNS rebinding)
reaches nothing it should not."""

import datetime as dt
import ipaddress
import socket
import time
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit, urlunsplit

import urllib3
from django.conf import settings
from standardwebhooks import Webhook

USER_AGENT = "clinic-webhooks/1"
# The answer's body is not used; reading a little of it lets the connection be reused, reading more would
# let a receiver keep a worker busy.
RESPONSE_READ_LIMIT = 64 * 1024

# One pool per (address, port, scheme, TLS name): connections to a receiver are reused between deliveries.
_pools = urllib3.PoolManager(num_pools=100, maxsize=4, block=False, retries=False)


class UrlRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Outcome:
    status: int | None  # the receiver's HTTP status; None when there was no answer
    duration_ms: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def words(self) -> str:
        return answer_words(status=self.status, error=self.error)


def answer_words(*, status: int | None, error: str) -> str:
    """What the receiver answered, for people: "500 Internal Server Error", or why there was no answer."""
    if status is None:
        return error or "No answer."
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address `host` resolves to, all of them allowed by the policy, or UrlRefused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UrlRefused(f"The host {host} could not be found.") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
    if not settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        for address in addresses:
            if not _public(address):
                raise UrlRefused(
                    f"{host} is a private, loopback, link-local or reserved address ({address}); "
                    "webhooks go to public addresses only."
                )
    return addresses


def _parts(url: str):
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("Use an https:// URL." if settings.WEBHOOK_HTTPS_ONLY else "Use an http(s):// URL.")
    if settings.WEBHOOK_HTTPS_ONLY and parts.scheme != "https":
        raise UrlRefused("Use an https:// URL: webhooks carry patient data.")
    if not parts.hostname:
        raise UrlRefused("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("Put no user name or password in the URL; deliveries are signed instead.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UrlRefused("The URL's port is not a number between 1 and 65535.") from None
    return parts, port


def url_clean(url: str) -> str:
    """The URL an endpoint may be registered with (its fragment dropped), or UrlRefused saying why not."""
    parts, port = _parts(url.strip())
    _addresses(parts.hostname, port)
    return urlunsplit(parts._replace(fragment=""))


def sign(*, secret: str, webhook_id: str, timestamp: dt.datetime, payload: str) -> str:
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, per Standard Webhooks."""
    return Webhook(secret).sign(msg_id=webhook_id, timestamp=timestamp, data=payload)


def _discard_body(response, deadline: float) -> None:
    read = 0
    while read < RESPONSE_READ_LIMIT and time.monotonic() < deadline:
        chunk = response.read(8192)
        if not chunk:
            response.release_conn()
            return
        read += len(chunk)
    response.close()  # too much, or too slow: this connection is not reused


def send(*, url: str, secret: str, webhook_id: str, payload: str) -> Outcome:
    """POST one signed delivery. Never raises for the receiver's sake: the outcome says what happened."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        parts, port = _parts(url)
        host = parts.hostname
        address = str(_addresses(host, port)[0])
        now = dt.datetime.now(dt.UTC)
        headers = {
            "Host": parts.netloc,  # the name (and port) asked for, not the address connected to
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": sign(secret=secret, webhook_id=webhook_id, timestamp=now, payload=payload),
        }
        tls = {"server_hostname": host, "assert_hostname": host} if parts.scheme == "https" else {}
        pool = _pools.connection_from_host(address, port, parts.scheme, pool_kwargs=tls)
        response = pool.urlopen(
            "POST",
            urlunsplit(("", "", parts.path or "/", parts.query, "")),
            body=payload.encode(),
            headers=headers,
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
            timeout=urllib3.Timeout(total=settings.WEBHOOK_TIMEOUT, connect=settings.WEBHOOK_CONNECT_TIMEOUT),
        )
        _discard_body(response, deadline=started + settings.WEBHOOK_TIMEOUT)
        return Outcome(status=response.status, duration_ms=elapsed())
    except UrlRefused as exc:
        return Outcome(status=None, duration_ms=elapsed(), error=exc.message)
    except urllib3.exceptions.NewConnectionError as exc:  # (a subclass of the timeout error)
        cause = exc.__cause__ or exc.__context__
        reason = getattr(cause, "strerror", None) or cause or exc
        return Outcome(status=None, duration_ms=elapsed(), error=f"Could not connect: {reason}."[:300])
    except urllib3.exceptions.TimeoutError:
        return Outcome(status=None, duration_ms=elapsed(), error="No answer in time.")
    except urllib3.exceptions.HTTPError as exc:
        reason = getattr(exc, "reason", None) or exc
        return Outcome(status=None, duration_ms=elapsed(), error=f"Could not connect: {reason}"[:300])
