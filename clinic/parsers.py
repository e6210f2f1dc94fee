"""DRF's parsers, with two refusals: a NUL character anywhere in the data (PostgreSQL cannot store it in
text or JSON, and no field needs it) and JSON nested deeper than any request of the contract."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

# The deepest legitimate body is an intake's attachments, a list of objects: three levels.
MAX_JSON_DEPTH = 16
NUL_PROBLEM = "Must not contain NUL characters (\\u0000)."


def _too_deep() -> ParseError:
    return ParseError(f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.")


def _check(data) -> None:
    """Walks the data without recursion (a deep body must not exhaust the stack here either), naming the
    top-level field that carries a NUL."""
    fields = data.items() if isinstance(data, dict) else [("non_field_errors", data)]
    stack = [(field, field, value, 2) for field, value in fields]
    while stack:
        field, key, value, depth = stack.pop()
        if "\x00" in key:
            raise ValidationError({field.replace("\x00", "") or "non_field_errors": [NUL_PROBLEM]})
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise _too_deep()
            items = value.items() if isinstance(value, dict) else (("", item) for item in value)
            stack.extend((field, str(k), item, depth + 1) for k, item in items)
        elif isinstance(value, str) and "\x00" in value:
            raise ValidationError({field.replace("\x00", "") or "non_field_errors": [NUL_PROBLEM]})


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:  # json's decoder gives up on a very deep body this way
            raise _too_deep() from exc
        _check(data)
        return data


def _check_query_dict(data) -> None:
    for key, values in data.lists():
        _check({key: values})


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _check_query_dict(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        _check_query_dict(parsed.data)  # a file's content is its own; only the fields are checked
        return parsed
