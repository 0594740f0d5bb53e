"""Size guards on every request body, before anything reads it (the CSRF check is the first reader).

Werkzeug limits multipart forms while it streams them (``MAX_FORM_PARTS`` fields, ``MAX_FORM_MEMORY_SIZE`` per
field) and every body to ``MAX_CONTENT_LENGTH`` (12 MB, for uploads), but reads an urlencoded form whole and
without a field count, and a JSON body nested deeply enough overflows the parser's recursion (a 500). Here: an
urlencoded form may be ``MAX_FORM_MEMORY_SIZE`` bytes and ``MAX_FORM_PARTS`` fields, a JSON body
``MAX_JSON_BYTES`` (two process files of 2 MB escaped), and JSON too deep to parse is a bad request like any other
malformed JSON. And a NUL character is refused anywhere in a request (path, query, form field, JSON): no text of
this app holds one, and PostgreSQL refuses it in any query, which would otherwise surface as a 500. Each refusal is
a plain 413 or 400 page (web/errors.py).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, current_app, request
from flask.json.provider import DefaultJSONProvider

DEFAULT_MAX_JSON_BYTES = 5 * 1024 * 1024
_URLENCODED = "application/x-www-form-urlencoded"


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with nesting too deep for the parser reported as invalid JSON (a ValueError: ``get_json``
    answers 400, or ``None`` when silent) instead of a RecursionError."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON te diep genest") from None


def init_app(app: Flask) -> None:
    app.json = BoundedJSONProvider(app)
    app.before_request(_guard_body)
    app.before_request(_refuse_nul)


def _guard_body() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    config = current_app.config
    mimetype = request.mimetype
    if mimetype == "application/json":
        request.max_content_length = int(config.get("MAX_JSON_BYTES", DEFAULT_MAX_JSON_BYTES))
    elif mimetype == _URLENCODED:
        request.max_content_length = int(config["MAX_FORM_MEMORY_SIZE"])
        body = request.get_data(cache=True)  # 413 over the limit; the form is parsed from this copy
        if body.count(b"&") + 1 > int(config["MAX_FORM_PARTS"]):
            abort(413)


_NUL = "\x00"


def _refuse_nul() -> None:
    if _NUL in request.path or any(_NUL in key or _NUL in value for key, value in request.args.items(multi=True)):
        abort(400)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.mimetype == "application/json":
        body = request.get_data(cache=True)
        if b"\x00" in body or b"\\u0000" in body:
            abort(400)
        return
    fields = request.form.items(multi=True)
    names = [(key, upload.filename or "") for key, upload in request.files.items(multi=True)]
    if any(_NUL in key or _NUL in value for key, value in [*fields, *names]):
        abort(400)
