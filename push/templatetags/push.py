from django import template
from django.urls import reverse
from django.utils.http import urlencode

from push import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def push_stream_url(context) -> str:
    """The page's event stream, starting after the newest event at rendering: nothing that happens before
    the stream opens is missed."""
    url = reverse("push:stream")
    since = selectors.last_event_id(account_id=context["request"].user.account_id)
    return f"{url}?{urlencode({'since': since})}" if since else url
