import nh3

# The contract's html fields keep only these tags, and no attributes at all.
ALLOWED_TAGS = {"u", "b", "i", "strong", "ul", "ol", "li", "p", "br"}


def sanitise_html(value: str) -> str:
    return nh3.clean(value or "", tags=ALLOWED_TAGS, attributes={}, url_schemes=set(), strip_comments=True)
