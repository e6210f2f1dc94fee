import logging

from clinic.models import Provider, User
from push.backends import backend
from push.events import Audience
from visits.selectors import is_staff_user

log = logging.getLogger(__name__)


def stream_audience(*, user: User) -> Audience | None:
    """Whom a stream is for: a provider hears about their rooms; the front desk and clinic admins about
    every room of their account (the clinic board); anyone else gets no stream."""
    if not user.is_authenticated or user.account_id is None:
        return None
    if is_staff_user(user):
        return Audience(account_id=user.account_id, room_ids=None)
    if user.is_provider and user.has_perm("visits.accept_visit"):
        rooms = Provider.rooms.through.objects.filter(
            provider__user=user, provider__account_id=user.account_id, room__account_id=user.account_id
        ).values_list("room_id", flat=True)
        return Audience(account_id=user.account_id, room_ids=frozenset(rooms))
    return None


def last_event_id(*, account_id: int) -> str:
    """The newest event's id, for a page to start its stream from: what happens between rendering the page
    and opening the stream is replayed. Empty when the backend cannot be reached; the stream then starts
    from its own opening (and the page polls if it cannot open)."""
    try:
        return backend().last_id(account_id)
    except Exception:
        log.warning("push backend unreachable; the page's stream starts from its opening", exc_info=True)
        return ""
