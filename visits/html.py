import re

import nh3

# The contract's html fields keep only these tags, and no attributes at all.
ALLOWED_TAGS = {"u", "b", "i", "strong", "ul", "ol", "li", "p", "br"}

# Notes that say where their lines break (<p>, <br>) are html as written; any others are typed text.
_LINE_TAGS = re.compile(r"<\s*/?\s*(?:p|br)\b", re.IGNORECASE)
# A list (the notes' List button writes one) is already laid out: its newlines are not line breaks.
_LIST = re.compile(r"(<\s*(?:ul|ol)\b.*?<\s*/\s*(?:ul|ol)\s*>)", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_BLANK_LINE = re.compile(r"\n[ \t]*\n\s*")


def sanitise_html(value: str) -> str:
    return nh3.clean(value or "", tags=ALLOWED_TAGS, attributes={}, url_schemes=set(), strip_comments=True)


def notes_clean(value: str) -> str:
    """A provider's notes as stored: typed text keeps its line breaks (a blank line starts a paragraph, a
    newline is a <br>), then only the allowed tags are kept.

    Typed text is text without <p> or <br>: bold words or a list inserted with the notes' buttons do not
    turn a provider's paragraphs into one run-on line (text with no tags at all is the plain case)."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if text and not _LINE_TAGS.search(text):
        text = "".join(
            chunk if index % 2 else _paragraphs(chunk) for index, chunk in enumerate(_LIST.split(text))
        )
    cleaned = sanitise_html(text).strip()
    # Nothing left to read (only a script, empty tags) is no notes at all.
    return cleaned if _TAG.sub("", cleaned).strip() else ""


def _paragraphs(text: str) -> str:
    return "".join(
        "<p>" + "<br>".join(line.strip() for line in block.split("\n")) + "</p>"
        for block in _BLANK_LINE.split(text.strip())
        if block.strip()
    )
