"""The caller's address, for lockouts and throttles (and anything that records where a request came from)."""

import ipaddress

from django.conf import settings


def _valid(candidate: str) -> str | None:
    try:
        return str(ipaddress.ip_address(candidate.strip()))
    except ValueError:
        return None


def client_address(request) -> str | None:
    """REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the address the outermost trusted one saw.

    Only the entries our own proxies appended are believed: anything left of them is the client's to
    forge (the same rule as DRF's NUM_PROXIES)."""
    remote = _valid(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    hops = forwarded.split(",")
    return _valid(hops[-min(proxies, len(hops))]) or remote
