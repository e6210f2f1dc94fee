"""The clinic app's events (it cannot import this app): recorded in the outbox like the visits' ones."""

from clinic.api import UserOut
from clinic.models import User
from webhooks.event_types import EventType
from webhooks.services import webhook_event_record


def user_created_record(sender, *, user: User, **kwargs) -> None:
    """`user.created`, its data the user as POST /users/sso answers it (without the token)."""
    user = User.objects.select_related("account", "provider", "member").get(pk=user.pk)
    webhook_event_record(
        account=user.account,
        event_type=EventType.USER_CREATED,
        data=UserOut(user).data,
        ordering_key=f"user:{user.pk}",
    )
