"""One error handler: a Dutch page with a reference id; never a stack trace, SQL or case data.

Every refusal — a 403, a 404 answered by a route (an object outside the actor's scope, or one that does not
exist: the two must look the same, so both are logged) and a refused CSRF token — also writes one line to
the ``web.security`` log: who (account id or "anoniem", role), the HTTP method, the route's endpoint name,
the status and the reference id shown on the page. Never the URL, its query string, form values or case data.
"""

from __future__ import annotations

import logging
import re
import secrets
import traceback

from flask import Flask, g, has_request_context, render_template, request
from werkzeug.exceptions import HTTPException, SecurityError

from engine.errors import ConflictError, InvalidTransitionError, NotFoundError, PermissionDeniedError
from web.security import CsrfError

log = logging.getLogger(__name__)
security_log = logging.getLogger("web.security")

REFUSAL = "weigering"
ANONYMOUS = "anoniem"
CSRF_STATUS = 400
# What a logged value may contain: ids, role names, endpoint names and methods need nothing else; anything
# else (a newline, a control character) is replaced, so a line in the log is always one refusal.
_UNSAFE = re.compile(r"[^A-Za-z0-9._@:+-]")

MESSAGES = {
    400: ("Ongeldig verzoek", "Het verzoek kon niet worden verwerkt."),
    401: ("Niet ingelogd", "Log in om verder te gaan."),
    403: ("Geen toegang", "Uw rol heeft geen toegang tot deze pagina of handeling."),
    404: ("Niet gevonden", "Deze pagina bestaat niet, of u heeft er geen toegang toe."),
    405: ("Niet toegestaan", "Deze handeling is hier niet toegestaan."),
    409: ("Gewijzigd", "De zaak is intussen gewijzigd. Open de pagina opnieuw."),
    413: ("Te groot", "Het verzonden bestand of formulier is te groot."),
    500: ("Er ging iets mis", "Er is een onverwachte fout opgetreden. Probeer het later opnieuw."),
}
CSRF_MESSAGE = "Het formulier is verlopen of ongeldig. Open de pagina opnieuw en probeer het nog eens."


def init_app(app: Flask) -> None:
    app.register_error_handler(NotFoundError, lambda _e: refusal_page(404))
    app.register_error_handler(PermissionDeniedError, lambda _e: refusal_page(403))
    app.register_error_handler(ConflictError, lambda _e: error_page(409))
    app.register_error_handler(InvalidTransitionError, lambda _e: error_page(409))
    app.register_error_handler(CsrfError, lambda _e: refusal_page(CSRF_STATUS, CSRF_MESSAGE))
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def error_page(status: int, message: str | None = None, reference: str | None = None) -> tuple[str, int]:
    title, default = MESSAGES.get(status, MESSAGES[500])
    reference = reference or new_reference()
    return render_template(
        "errors/error.html", status=status, title=title, message=message or default, reference=reference
    ), status


def refusal_page(status: int, message: str | None = None) -> tuple[str, int]:
    """The error page of a refused request, and its one line in the security log (same reference id)."""
    reference = new_reference()
    log_refusal(status, reference)
    return error_page(status, message, reference)


def new_reference() -> str:
    """The request's id where one was given to it (web/logs.py), so page, proxy log and our log meet."""
    request_id = g.get("request_id") if has_request_context() else None
    return str(request_id) if request_id else secrets.token_hex(4)


def log_refusal(status: int, reference: str) -> None:
    if not has_request_context():
        return
    # a session that passed only the password (second step pending) is that account too
    account = g.get("account") or g.get("pending_account")
    actor = g.get("actor")
    account_id = str(getattr(account, "id", "") or "") or ANONYMOUS
    role = actor.role.value if actor is not None else "-"
    security_log.warning(
        "%s status=%d account=%s rol=%s methode=%s route=%s referentie=%s",
        REFUSAL,
        status,
        _safe(account_id),
        _safe(role),
        _safe(request.method),
        _safe(request.endpoint or "-"),
        _safe(reference),
    )


def _safe(value: str) -> str:
    return _UNSAFE.sub("?", value[:100])


def _http_error(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    if isinstance(error, SecurityError):
        # An untrusted Host header: no URL can be built for it, so no page either; one line for the log.
        log.warning("weigering status=400 onvertrouwde host")
        return "Ongeldig verzoek.", 400
    # A 404 of a route that matched is a refused or unknown object (abort(404) in a view); a URL no route
    # matches, or a missing static file, refuses nothing and stays out of the security log (the request log
    # has it).
    if status == 403 or (status == 404 and request.endpoint not in (None, "static")):
        return refusal_page(status)
    return error_page(status)


def _unexpected(error: Exception) -> tuple[str, int]:
    reference = new_reference()
    # The type and where it happened, for the operator; the message may quote SQL or case data, so it
    # stays out of the log as it stays out of the page.
    frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    where = f"{frame.filename}:{frame.lineno}" if frame else "?"
    log.error("onverwachte fout %s bij %s, referentie %s", type(error).__name__, where, reference)
    return error_page(500, reference=reference)
