import logging

from push.backends import backend

log = logging.getLogger(__name__)


def last_event_id(*, account_id: int) -> str:
    """The newest event's id, for a page to start its stream from: what happens between rendering the page
    and opening the stream is replayed. Empty when the backend cannot be reached; the stream then starts
    from its own opening (and the page polls if it cannot open)."""
    try:
        return backend().last_id(account_id)
    except Exception:
        log.warning("push backend unreachable; the page's stream starts from its opening", exc_info=True)
        return ""


def backend_ping() -> None:
    """Raises when this process cannot reach the push backend (/readyz's "push" check): pages then
    fall back to polling, and no live update reaches them from this node."""
    backend().ping()
