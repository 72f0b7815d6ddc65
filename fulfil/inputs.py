"""What every request's input must be before a view sees it: one rule per kind of value.

- Ids (in a path, a query string, a form or a session) are whole numbers a table can hold:
  every id column is an Integer, 32 bits on PostgreSQL. A larger number is an id of
  nothing — a 404 from the `<int:...>` converter, None from `parse_id` — never an
  "integer out of range" or an OverflowError from the database driver.
- A web address we store and show as a link (a tracking page, a product image) is http(s)
  with a host, no spaces or control characters, and fits its column: never javascript:.
- Text never carries NUL: PostgreSQL cannot store it in text and refuses the query, so a
  request with one in its path, query string or form is answered 400 before any view runs.
"""
from urllib.parse import urlsplit

from flask import abort, current_app, request
from werkzeug.routing import IntegerConverter

# The largest value an Integer column holds on PostgreSQL (SQLite's are 64-bit).
MAX_ID = 2**31 - 1
_MAX_DIGITS = len(str(MAX_ID))
NUL_MESSAGE = ("What was sent contains a NUL character (\\0), which is never part of real text "
               "and cannot be stored. Remove it (retype the value) and try again; nothing was saved.")

UNNAMED_FIELD = ("A field of what was sent has a name that cannot be read (it holds a line break). "
                 "Reload the page and try again; nothing was saved.")


def parse_id(value):
    """A positive whole number that fits an id column, from text or a number; else None.

    Only ASCII digits count ("²".isdigit() is true, but int() refuses it)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip() if value is not None else ""
        if not text or len(text) > _MAX_DIGITS or not text.isascii() or not text.isdigit():
            return None
        number = int(text)
    return number if 0 < number <= MAX_ID else None


MAX_URL = 500  # the tracking_url and image_url columns


def is_web_address(text, max_length=MAX_URL):
    """http(s)://host/..., short enough for its column, without spaces or control characters."""
    if not text or len(text) > max_length or any(ch.isspace() or ch < " " or ch == "\x7f" for ch in text):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:  # "https://[broken" and the like
        return False
    return parts.scheme in ("https", "http") and bool(parts.hostname)


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: a number beyond MAX_ID matches no route (404).

    The regex bounds the length (so a long number matches no path at all, rather than a
    path of another method: 405) and keeps to ASCII digits; `max` does the rest."""
    regex = f"[0-9]{{1,{_MAX_DIGITS}}}"

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits, min, max, signed)


def _has_nul(values):
    return any("\x00" in key or any("\x00" in value for value in values.getlist(key)) for key in values)


def takes_raw_text(view):
    """Mark a view whose form carries pasted data (a spreadsheet's text) that its own parser
    reads, NULs and all: refusing the whole paste for one stray byte would lose it."""
    view.takes_raw_text = True
    return view


def refuse_nul():
    """before_request: a NUL anywhere in the path, query string or form fields is a 400, and
    so is a multipart form field whose name the parser could not read (a line break in it
    leaves the name None, which no view expects)."""
    if "\x00" in request.path or _has_nul(request.args):
        abort(400, NUL_MESSAGE)
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    if any(not isinstance(key, str) for key in (*request.form, *request.files)):
        abort(400, UNNAMED_FIELD)
    view = current_app.view_functions.get(request.endpoint)
    if not getattr(view, "takes_raw_text", False) and _has_nul(request.form):
        abort(400, NUL_MESSAGE)


def init_app(app):
    """Before any blueprint adds a rule: the converter is looked up as rules are added."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_nul)
