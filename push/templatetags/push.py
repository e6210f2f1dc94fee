from django import template

from push import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def push_last_event_id(context) -> str:
    """The newest event at rendering, as the page's stream `since`: nothing that happens before the stream
    opens is missed."""
    return selectors.last_event_id(account_id=context["request"].user.account_id)
