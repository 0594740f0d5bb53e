"""E-mail for notifications: render a template, build the message, hand it to SMTP or to a directory.

A mail says only that there is something to do or that something happened in a case, with the case
reference and a link; the content itself is visible only after logging in. The Message-ID is derived from
the delivery's idempotency key, so a re-send of the same delivery is recognisable (``Mailer.delivered``).
Errors carry a short ``reason`` that never quotes addresses or content: it goes into the database and logs.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import json
import os
import re
import smtplib
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Literal, Protocol, cast, get_args

import jinja2

from engine.clock import Clock, system_clock

TEMPLATE_DIR = Path(__file__).with_name("mail_templates")
SUBJECT_PREFIX = "Onderwerp:"
DEFAULT_SENDER = "regeling@localhost"
DEFAULT_SMTP_PORT = 587

Security = Literal["starttls", "ssl", "none"]
SECURITIES: tuple[str, ...] = get_args(Security)

_TEMPLATE_ID = re.compile(r"[a-z0-9_]{1,100}")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,118}[A-Za-z0-9])?")
_SSL_REASON = re.compile(r"[A-Z0-9_]{1,60}")


# --------------------------------------------------------------------------------------------------
# The message.


@dataclass(frozen=True)
class Mail:
    """One e-mail to one recipient; ``message_id`` comes from :func:`message_id_for`."""

    to: str
    subject: str
    text: str
    html: str
    message_id: str

    def __post_init__(self) -> None:
        if "@" not in parseaddr(self.to)[1] or _has_line_break(self.to):
            raise ValueError("Mail.to is not an e-mail address")
        if not self.subject.strip() or _has_line_break(self.subject):
            raise ValueError("Mail.subject must be one non-empty line")
        if not (self.message_id.startswith("<") and self.message_id.endswith(">") and "@" in self.message_id):
            raise ValueError("Mail.message_id must look like <id@domain>")

    def to_email_message(self, *, sender: str, date: datetime) -> EmailMessage:
        """The message as sent: multipart/alternative (text, then HTML), marked as automatically generated."""
        if date.tzinfo is None:
            raise ValueError("the Date of a mail needs an aware datetime")
        message = EmailMessage()
        message["From"] = sender
        message["To"] = self.to
        message["Subject"] = self.subject
        message["Date"] = format_datetime(date)
        message["Message-ID"] = self.message_id
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, no vacation notices
        message["X-Auto-Response-Suppress"] = "All"  # the same for Exchange
        message.set_content(self.text, subtype="plain", charset="utf-8")
        message.add_alternative(self.html, subtype="html", charset="utf-8")
        return message


def message_id_for(key: str, domain: str) -> str:
    """The Message-ID of the delivery with idempotency key ``key``: the same key gives the same id."""
    if not key:
        raise ValueError("message_id_for needs a non-empty idempotency key")
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"message_id_for: {domain!r} is not a domain name")
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()}@{domain}>"


def domain_of(address: str) -> str:
    """The domain of an address such as ``MAIL_FROM`` (``Regeling <regeling@example.nl>`` → ``example.nl``)."""
    local, at, domain = parseaddr(address)[1].rpartition("@")
    if not (local and at and _DOMAIN.fullmatch(domain)):
        raise ValueError(f"{address!r} has no usable domain")
    return domain


# --------------------------------------------------------------------------------------------------
# Mailers.


class MailError(Exception):
    """Sending failed. ``permanent``: sending this message again will not help (the server said 5xx; not
    for failed authentication, which is configuration). ``reason`` is short and safe to store and log, such as
    ``SMTP 451`` or ``ConnectionRefusedError``: never an address, never content, never the server's text."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Mailer(Protocol):
    def send(self, mail: Mail) -> None:
        """Deliver ``mail`` or raise :class:`MailError`."""
        ...

    def delivered(self, message_id: str) -> bool | None:
        """Whether a message with this Message-ID was already accepted; None when the mailer cannot tell."""
        ...


class SmtpMailer:
    """Sends over SMTP (smtplib). ``delivered`` can only tell when ``mailpit_api`` is given (Mailpit's HTTP API)."""

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_SMTP_PORT,
        *,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        sender: str = DEFAULT_SENDER,
        timeout: float = 10,
        mailpit_api: str | None = None,
        clock: Clock = system_clock,
    ) -> None:
        if security not in SECURITIES:
            raise ValueError(f"security must be one of {', '.join(SECURITIES)}, not {security!r}")
        if (username is None) != (password is None):
            raise ValueError("SMTP username and password go together")
        if mailpit_api is not None:
            _check_http_url(mailpit_api, "mailpit_api")
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self._password = password
        self.sender = sender
        self.timeout = timeout
        self.mailpit_api = mailpit_api.rstrip("/") if mailpit_api else None
        self.clock = clock

    def __repr__(self) -> str:  # never the password
        return f"SmtpMailer({self.host!r}, {self.port}, security={self.security!r}, username={self.username!r})"

    def send(self, mail: Mail) -> None:
        message = mail.to_email_message(sender=self.sender, date=self.clock())
        try:
            smtp = self._connect()
        except (smtplib.SMTPException, OSError) as error:
            raise _mail_error(error) from None
        try:
            if self.username is not None and self._password is not None:
                smtp.login(self.username, self._password)
            refused = smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as error:
            raise _mail_error(error) from None
        finally:
            _quit_quietly(smtp)
        if refused:  # some recipients refused, others accepted; with one recipient this does not happen
            raise MailError(_refused_reason(refused), permanent=_all_permanent(refused))

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            try:
                smtp.starttls(context=ssl.create_default_context())
            except BaseException:
                _quit_quietly(smtp)
                raise
        return smtp

    def delivered(self, message_id: str) -> bool | None:
        if self.mailpit_api is None:
            return None
        wanted = message_id.strip("<>").lower()
        query = urllib.parse.urlencode({"query": f"message-id:{wanted}"})
        url = f"{self.mailpit_api}/api/v1/search?{query}"
        try:
            # The scheme was checked to be http(s) in __init__.
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310
                found = json.load(response)
        except (OSError, ValueError, http.client.HTTPException):  # URLError, timeouts; bad JSON is a ValueError
            return None
        messages = found.get("messages") if isinstance(found, dict) else None
        if not isinstance(messages, list):
            return None
        # Mailpit matches a substring; only an exact Message-ID counts.
        return any(isinstance(m, dict) and str(m.get("MessageID", "")).strip("<>").lower() == wanted for m in messages)


class SinkMailer:
    """The embedded default: every mail becomes ``<directory>/<sha256 of Message-ID>.eml``.

    A file appears only when fully written (temporary file in the same directory, fsync, rename), so
    ``delivered`` is simply whether it exists. A mail whose file exists is not written again.
    """

    def __init__(self, directory: Path, sender: str = DEFAULT_SENDER, *, clock: Clock = system_clock) -> None:
        self.directory = directory
        self.sender = sender
        self.clock = clock

    def __repr__(self) -> str:
        return f"SinkMailer({str(self.directory)!r})"

    def path_for(self, message_id: str) -> Path:
        return self.directory / f"{hashlib.sha256(message_id.encode('utf-8')).hexdigest()}.eml"

    def send(self, mail: Mail) -> None:
        target = self.path_for(mail.message_id)
        if target.exists():
            return
        data = mail.to_email_message(sender=self.sender, date=self.clock()).as_bytes()
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".sending-", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(data)
                    stream.flush()
                    os.fsync(stream.fileno())
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            _fsync_directory(self.directory)
        except OSError as error:
            raise MailError(f"sink {type(error).__name__}", permanent=False) from None

    def delivered(self, message_id: str) -> bool | None:
        return self.path_for(message_id).exists()


def mailer_from_env(environ: Mapping[str, str], *, instance: Path = Path("var"), clock: Clock = system_clock) -> Mailer:
    """SMTP when ``SMTP_HOST`` is set (``SMTP_PORT``, ``SMTP_SECURITY``, ``SMTP_USERNAME``, ``SMTP_PASSWORD``,
    ``MAIL_FROM``, ``MAILPIT_API``), otherwise a :class:`SinkMailer` writing to ``<instance>/mail``."""
    sender = environ.get("MAIL_FROM", "").strip() or DEFAULT_SENDER
    if "@" not in parseaddr(sender)[1] or _has_line_break(sender):
        raise ValueError("MAIL_FROM must be an e-mail address, e.g. regeling@example.nl")
    host = environ.get("SMTP_HOST", "").strip()
    if not host:
        stray = [name for name in _SMTP_SETTINGS if environ.get(name, "").strip()]
        if stray:
            raise ValueError(f"{', '.join(stray)} set but SMTP_HOST is not: set SMTP_HOST to send over SMTP")
        return SinkMailer(instance / "mail", sender, clock=clock)

    port_text = environ.get("SMTP_PORT", "").strip() or str(DEFAULT_SMTP_PORT)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"SMTP_PORT must be a port number from 1 to 65535, not {port_text!r}")
    security = environ.get("SMTP_SECURITY", "").strip().lower() or "starttls"
    if security not in SECURITIES:
        raise ValueError(f"SMTP_SECURITY must be one of {', '.join(SECURITIES)}, not {security!r}")
    username = environ.get("SMTP_USERNAME", "").strip() or None
    password = environ.get("SMTP_PASSWORD") or None
    if username is None and password is not None:
        raise ValueError("SMTP_PASSWORD is set but SMTP_USERNAME is not")
    if username is not None and password is None:
        raise ValueError("SMTP_USERNAME is set but SMTP_PASSWORD is not")
    if username is not None and security == "none":
        raise ValueError("SMTP_USERNAME needs SMTP_SECURITY starttls or ssl: the password would travel unencrypted")
    mailpit_api = environ.get("MAILPIT_API", "").strip() or None
    if mailpit_api is not None:
        _check_http_url(mailpit_api, "MAILPIT_API")
    return SmtpMailer(
        host,
        int(port_text),
        security=cast(Security, security),  # checked against SECURITIES above
        username=username,
        password=password,
        sender=sender,
        mailpit_api=mailpit_api,
        clock=clock,
    )


_SMTP_SETTINGS = ("SMTP_PORT", "SMTP_SECURITY", "SMTP_USERNAME", "SMTP_PASSWORD", "MAILPIT_API")


def _has_line_break(value: str) -> bool:
    return "\n" in value or "\r" in value


def _check_http_url(url: str, name: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = "" if "@" in url else f", not {url!r}"  # never echo credentials
        raise ValueError(f"{name} must be an http(s) URL such as http://mailpit:8025{shown}")


def _quit_quietly(smtp: smtplib.SMTP) -> None:
    """QUIT without letting its failure turn an accepted message into an error (and a duplicate later)."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _mail_error(error: BaseException) -> MailError:
    """Classify: 5xx is permanent; connection problems, timeouts and 4xx are transient. Failed
    authentication is transient too: it is the configuration, not the message, and retrying after the fix helps."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return MailError(_refused_reason(error.recipients), permanent=_all_permanent(error.recipients))
    if isinstance(error, smtplib.SMTPConnectError):
        return MailError("SMTPConnectError", permanent=False)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return MailError(f"SMTP {error.smtp_code} authentication", permanent=False)
    if isinstance(error, smtplib.SMTPResponseException):
        return MailError(f"SMTP {error.smtp_code}", permanent=500 <= error.smtp_code < 600)
    if isinstance(error, ssl.SSLError):
        reason = error.reason if isinstance(error.reason, str) and _SSL_REASON.fullmatch(error.reason) else ""
        return MailError(f"SSLError {reason}".strip(), permanent=False)
    if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
        # socket.timeout is TimeoutError; smtplib turns a timed-out reply into SMTPServerDisconnected
        return MailError("timeout", permanent=False)
    return MailError(type(error).__name__, permanent=False)


def _refused_reason(refused: Mapping[str, tuple[int, bytes]]) -> str:
    codes = sorted({code for code, _message in refused.values()})
    return "SMTP " + "/".join(str(code) for code in codes) + " recipient refused"


def _all_permanent(refused: Mapping[str, tuple[int, bytes]]) -> bool:
    return all(500 <= code < 600 for code, _message in refused.values())


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); harmless where directories cannot be opened."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


# --------------------------------------------------------------------------------------------------
# Templates.


class UnknownTemplateError(ValueError):
    """No mail template with this id: every ``template`` of a notify task needs ``<id>.txt`` and ``<id>.html``."""


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def known_templates() -> set[str]:
    """Template ids with both a ``.txt`` and a ``.html`` file (``_``-files are shared parts, not templates)."""
    names = {p.name for p in TEMPLATE_DIR.iterdir() if p.is_file() and not p.name.startswith("_")}
    return {name.removesuffix(".txt") for name in names if name.endswith(".txt") and f"{name[:-4]}.html" in names}


def render_mail(template: str, *, reference: str, link: str, recipient_name: str, role: str) -> tuple[str, str, str]:
    """(subject, text, html) of template ``template``; the subject is the text's first line ``Onderwerp: …``."""
    if not _TEMPLATE_ID.fullmatch(template) or template not in known_templates():
        raise UnknownTemplateError(f"no mail template {template!r} (needs {template}.txt and {template}.html)")
    if not _is_safe_link(link):
        raise ValueError("link must be an http(s) URL or a path starting with /")
    values = {"reference": reference, "link": link, "recipient_name": recipient_name, "role": role}
    environment = _environment()
    text = environment.get_template(f"{template}.txt").render(values)
    html = environment.get_template(f"{template}.html").render(values)
    first, _newline, body = text.partition("\n")
    if not first.startswith(SUBJECT_PREFIX):
        raise ValueError(f"mail template {template}.txt must start with a line {SUBJECT_PREFIX!r}")
    subject = " ".join(first.removeprefix(SUBJECT_PREFIX).split())
    if not subject:
        raise ValueError(f"mail template {template}.txt has an empty subject")
    return subject, body.strip("\n") + "\n", html


def _is_safe_link(link: str) -> bool:
    if _has_line_break(link) or any(c.isspace() for c in link):
        return False
    if link.startswith("/"):
        return not link.startswith("//")
    parts = urllib.parse.urlsplit(link)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
