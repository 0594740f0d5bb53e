"""One error handler: a Dutch page with a reference id; never a stack trace, SQL or case data."""

from __future__ import annotations

import logging
import secrets
import traceback

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException

from engine.errors import ConflictError, InvalidTransitionError, NotFoundError, PermissionDeniedError
from web.security import CsrfError

log = logging.getLogger(__name__)

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


def init_app(app: Flask) -> None:
    app.register_error_handler(NotFoundError, lambda _e: error_page(404))
    app.register_error_handler(PermissionDeniedError, lambda _e: error_page(403))
    app.register_error_handler(ConflictError, lambda _e: error_page(409))
    app.register_error_handler(InvalidTransitionError, lambda _e: error_page(409))
    app.register_error_handler(
        CsrfError,
        lambda _e: error_page(
            400, "Het formulier is verlopen of ongeldig. Open de pagina opnieuw en probeer het nog eens."
        ),
    )
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def error_page(status: int, message: str | None = None, reference: str | None = None) -> tuple[str, int]:
    title, default = MESSAGES.get(status, MESSAGES[500])
    reference = reference or secrets.token_hex(4)
    return render_template(
        "errors/error.html", status=status, title=title, message=message or default, reference=reference
    ), status


def _http_error(error: HTTPException) -> tuple[str, int]:
    return error_page(error.code or 500)


def _unexpected(error: Exception) -> tuple[str, int]:
    reference = secrets.token_hex(4)
    # The type and where it happened, for the operator; the message may quote SQL or case data, so it
    # stays out of the log as it stays out of the page.
    frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    where = f"{frame.filename}:{frame.lineno}" if frame else "?"
    log.error("onverwachte fout %s bij %s, referentie %s", type(error).__name__, where, reference)
    return error_page(500, reference=reference)
