"""Tests for engine.mail: templates for every notify task, the message, and the SMTP and directory mailers."""

from __future__ import annotations

import ast
import email
import hashlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jinja2
import jinja2.meta
import pytest
from aiosmtpd.controller import Controller
from lxml import etree

from engine import mail as mail_module
from engine.clock import FrozenClock
from engine.mail import (
    TEMPLATE_DIR,
    Mail,
    MailError,
    SinkMailer,
    SmtpMailer,
    UnknownTemplateError,
    domain_of,
    known_templates,
    mailer_from_env,
    message_id_for,
    render_mail,
)

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ROOT / "processes"
FORMS = ROOT / "forms"
NOW = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
REFERENCE = "BV-2026-0042"
LINK = "https://regeling.example/zaken/BV-2026-0042"
ALLOWED_VARIABLES = {"reference", "link", "recipient_name", "role"}
PASSWORD = "geheim-wachtwoord-123"


# --------------------------------------------------------------------------------------------------
# Which templates the diagrams use.


def _form_enum(name: str) -> set[str]:
    """The values a variable filled in by a form can take: the ``enum`` of that form field."""
    for path in sorted(FORMS.glob("*.schema.json")):
        field = json.loads(path.read_text(encoding="utf-8")).get("properties", {}).get(name, {})
        if "enum" in field:
            return {str(value) for value in field["enum"]}
    raise AssertionError(f"no form field {name!r} with an enum: cannot tell which templates it yields")


def _template_values(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _template_values(node.body) | _template_values(node.orelse)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return {a + b for a in _template_values(node.left) for b in _template_values(node.right)}
    if isinstance(node, ast.Name):
        return _form_enum(node.id)
    raise AssertionError(f"cannot tell which templates {ast.unparse(node)!r} yields: extend this test")


def diagram_templates() -> dict[str, str]:
    """Every template id a notify task can produce, with where it comes from (file and task id)."""
    found: dict[str, str] = {}
    for path in sorted(PROCESSES.glob("*.bpmn")):
        for operator in etree.parse(str(path)).iter("{*}serviceTaskOperator"):
            if operator.get("id") != "notify":
                continue
            task = operator.getparent().getparent()  # extensionElements, then the task
            for parameter in operator.iter("{*}parameter"):
                if parameter.get("id") == "template":
                    expression = ast.parse(parameter.get("value", ""), mode="eval").body
                    for template in _template_values(expression):
                        found[template] = f"{path.name}#{task.get('id')}"
    return found


DIAGRAM_TEMPLATES = diagram_templates()


def test_the_diagrams_use_templates() -> None:
    assert len(DIAGRAM_TEMPLATES) >= 36
    assert "aanmelding_ontvangen" in DIAGRAM_TEMPLATES
    # Computed template names are expanded, not skipped.
    assert {"beslissing_op_bezwaar_gegrond", "beslissing_op_bezwaar_ongegrond"} <= DIAGRAM_TEMPLATES.keys()
    assert {"afbouw_afgerond", "afbouw_afgerond_politie_stelsel_bewaken_beveiligen"} <= DIAGRAM_TEMPLATES.keys()


def test_there_are_templates_for_exactly_the_ids_in_the_diagrams() -> None:
    assert known_templates() == set(DIAGRAM_TEMPLATES)


# --------------------------------------------------------------------------------------------------
# Rendering.


@pytest.mark.parametrize("template", sorted(DIAGRAM_TEMPLATES))
def test_every_diagram_template_renders(template: str) -> None:
    assert (TEMPLATE_DIR / f"{template}.txt").is_file(), DIAGRAM_TEMPLATES[template]
    assert (TEMPLATE_DIR / f"{template}.html").is_file(), DIAGRAM_TEMPLATES[template]

    subject, text, html = render_mail(
        template, reference=REFERENCE, link=LINK, recipient_name="Synthetische Naam", role="Bestuurder"
    )

    assert subject.strip()
    assert REFERENCE in subject
    assert "\n" not in subject
    assert not text.startswith("Onderwerp")
    assert LINK in text
    assert f'href="{LINK}"' in html
    assert "Synthetische Naam" in text
    assert "Synthetische Naam" in html
    assert "ingelogd" in text
    assert "ingelogd" in html
    assert html.lstrip().startswith("<!DOCTYPE html>")


def test_html_escapes_the_recipient_name_and_text_keeps_it() -> None:
    name = '<script>alert("x")</script> & Co'
    _subject, text, html = render_mail(
        "aanmelding_bevestigd", reference=REFERENCE, link=LINK, recipient_name=name, role="Bestuurder"
    )
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in html
    assert name in text


def test_a_relative_link_is_allowed_and_a_script_link_is_not() -> None:
    _subject, text, html = render_mail(
        "bezwaar_ontvangen", reference=REFERENCE, link="/zaken/BV-2026-0042", recipient_name="X", role="Werkgever"
    )
    assert "/zaken/BV-2026-0042" in text
    assert 'href="/zaken/BV-2026-0042"' in html
    for link in ("javascript:alert(1)", "//evil.example/x", "https://regeling.example/a b", "ftp://x.example/"):
        with pytest.raises(ValueError, match="link"):
            render_mail("bezwaar_ontvangen", reference=REFERENCE, link=link, recipient_name="X", role="Werkgever")


@pytest.mark.parametrize("template", ["bestaat_niet", "../mail", "_layout", "_footer", "AANMELDING_ONTVANGEN", ""])
def test_an_unknown_template_is_a_clear_error(template: str) -> None:
    with pytest.raises(UnknownTemplateError, match="no mail template"):
        render_mail(template, reference=REFERENCE, link=LINK, recipient_name="X", role="CCV")


def _template_files() -> list[Path]:
    return sorted(p for p in TEMPLATE_DIR.iterdir() if p.suffix in (".txt", ".html"))


@pytest.mark.parametrize("path", _template_files(), ids=lambda p: p.name)
def test_templates_use_no_variables_but_reference_link_recipient_name_and_role(path: Path) -> None:
    environment = jinja2.Environment(autoescape=False)  # noqa: S701 - only parsed, never rendered
    variables = jinja2.meta.find_undeclared_variables(environment.parse(path.read_text(encoding="utf-8")))
    assert variables <= ALLOWED_VARIABLES, f"{path.name} uses {sorted(variables - ALLOWED_VARIABLES)}"


# What a mail must never reveal: the content of the case is only visible after logging in.
SENSITIVE_WORDS = (
    "dreiging",
    "politie",
    "bewaken",
    "beveilig",
    "woning",
    "woonplek",
    "pkvw",
    "keurmerk",
    "alarm",
    "camera",
    "adres",
    "maatregel",
    "gegrond",
    "afgewezen",
    "niet in aanmerking",
    "incident",
    "{{ role",
)


@pytest.mark.parametrize("path", _template_files(), ids=lambda p: p.name)
def test_templates_reveal_nothing_about_the_case(path: Path) -> None:
    source = path.read_text(encoding="utf-8").lower()
    assert [word for word in SENSITIVE_WORDS if word in source] == []


def test_templates_are_rendered_with_strict_undefined() -> None:
    environment = mail_module._environment()
    assert environment.undefined is jinja2.StrictUndefined
    with pytest.raises(jinja2.UndefinedError):
        environment.get_template("aanmelding_ontvangen.txt").render(reference=REFERENCE, link=LINK)


# --------------------------------------------------------------------------------------------------
# The message.


def _mail(
    message_id: str | None = None, *, to: str = "ontvanger@example.org", subject: str = "Zaak BV-1: Test"
) -> Mail:
    return Mail(
        to=to,
        subject=subject,
        text="Tekst\n",
        html="<p>Tekst</p>\n",
        message_id=message_id or message_id_for("BV-2026-0042:3:guid:account-1", "regeling.example"),
    )


def test_message_id_for_is_deterministic_and_differs_per_key() -> None:
    first = message_id_for("BV-2026-0001:1:abc:u1", "regeling.example")
    assert first == message_id_for("BV-2026-0001:1:abc:u1", "regeling.example")
    assert first != message_id_for("BV-2026-0001:1:abc:u2", "regeling.example")
    digest = hashlib.sha256(b"BV-2026-0001:1:abc:u1").hexdigest()
    assert first == f"<{digest}@regeling.example>"
    assert len(first) <= 200  # mail_delivery.message_id is String(200)


@pytest.mark.parametrize("domain", ["", "a b", "x@y", "<x>", "-x.example", "x" * 200])
def test_message_id_for_rejects_a_bad_domain(domain: str) -> None:
    with pytest.raises(ValueError, match="domain"):
        message_id_for("key", domain)


def test_domain_of_a_sender() -> None:
    assert domain_of("Regeling <regeling@gemeente.example>") == "gemeente.example"
    assert domain_of("regeling@localhost") == "localhost"
    with pytest.raises(ValueError, match="domain"):
        domain_of("geen-adres")


def test_the_email_message_has_the_headers_and_both_parts() -> None:
    mail = _mail()
    message = mail.to_email_message(sender="Regeling <regeling@regeling.example>", date=NOW)

    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["From"] == "Regeling <regeling@regeling.example>"
    assert parsed["To"] == "ontvanger@example.org"
    assert parsed["Subject"] == "Zaak BV-1: Test"
    assert parsed["Date"] == format_datetime(NOW)
    assert parsed["Message-ID"] == mail.message_id
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content() == "Tekst\n"
    assert parts[1].get_content() == "<p>Tekst</p>\n"


def test_a_message_needs_an_aware_date_and_sane_fields() -> None:
    with pytest.raises(ValueError, match="aware"):
        _mail().to_email_message(sender="regeling@regeling.example", date=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="to"):
        _mail(to="ontvanger@example.org\nBcc: x@example.org")
    with pytest.raises(ValueError, match="subject"):
        _mail(subject="Zaak\nBcc: x@example.org")
    with pytest.raises(ValueError, match="message_id"):
        _mail(message_id="zonder-haakjes")


# --------------------------------------------------------------------------------------------------
# SinkMailer.


def test_the_sink_writes_one_file_and_then_knows_it_was_delivered(tmp_path: Path) -> None:
    sink = SinkMailer(tmp_path / "mail", "regeling@regeling.example", clock=FrozenClock(NOW))
    mail = _mail()
    assert sink.delivered(mail.message_id) is False

    sink.send(mail)

    assert sink.delivered(mail.message_id) is True
    files = list((tmp_path / "mail").iterdir())
    assert [f.name for f in files] == [hashlib.sha256(mail.message_id.encode()).hexdigest() + ".eml"]
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == mail.message_id
    assert parsed["To"] == "ontvanger@example.org"
    assert parsed["From"] == "regeling@regeling.example"


def test_the_sink_never_writes_the_same_message_twice(tmp_path: Path) -> None:
    sink = SinkMailer(tmp_path, "regeling@regeling.example", clock=FrozenClock(NOW))
    mail = _mail()
    sink.send(mail)
    first = sink.path_for(mail.message_id).read_bytes()

    sink.send(_mail(mail.message_id, subject="Zaak BV-1: Anders"))

    assert list(tmp_path.iterdir()) == [sink.path_for(mail.message_id)]
    assert sink.path_for(mail.message_id).read_bytes() == first
    sink.send(_mail(message_id_for("other", "regeling.example")))
    assert len(list(tmp_path.iterdir())) == 2


def test_a_failed_sink_write_leaves_no_file_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = SinkMailer(tmp_path, "regeling@regeling.example", clock=FrozenClock(NOW))
    mail = _mail()

    def broken_fsync(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mail_module.os, "fsync", broken_fsync)
    with pytest.raises(MailError) as caught:
        sink.send(mail)

    assert caught.value.permanent is False
    assert caught.value.reason == "sink OSError"
    assert list(tmp_path.iterdir()) == []  # neither the .eml nor the temporary file
    assert sink.delivered(mail.message_id) is False
    monkeypatch.undo()
    sink.send(mail)
    assert sink.delivered(mail.message_id) is True


# --------------------------------------------------------------------------------------------------
# mailer_from_env.


def test_without_smtp_host_the_sink_in_the_instance_folder(tmp_path: Path) -> None:
    mailer = mailer_from_env({}, instance=tmp_path)
    assert isinstance(mailer, SinkMailer)
    assert mailer.directory == tmp_path / "mail"
    assert mailer.sender == "regeling@localhost"
    mailer = mailer_from_env({"MAIL_FROM": "Regeling <regeling@regeling.example>"}, instance=tmp_path)
    assert isinstance(mailer, SinkMailer)
    assert mailer.sender == "Regeling <regeling@regeling.example>"


def test_with_smtp_host_smtp_with_defaults(tmp_path: Path) -> None:
    mailer = mailer_from_env({"SMTP_HOST": "smtp.example"}, instance=tmp_path)
    assert isinstance(mailer, SmtpMailer)
    assert (mailer.host, mailer.port, mailer.security) == ("smtp.example", 587, "starttls")
    assert (mailer.username, mailer.sender, mailer.mailpit_api) == (None, "regeling@localhost", None)


def test_with_all_smtp_settings(tmp_path: Path) -> None:
    mailer = mailer_from_env(
        {
            "SMTP_HOST": "smtp.example",
            "SMTP_PORT": "465",
            "SMTP_SECURITY": "SSL",
            "SMTP_USERNAME": "regeling",
            "SMTP_PASSWORD": PASSWORD,
            "MAIL_FROM": "regeling@regeling.example",
            "MAILPIT_API": "http://mailpit:8025/",
        },
        instance=tmp_path,
    )
    assert isinstance(mailer, SmtpMailer)
    assert (mailer.port, mailer.security, mailer.username) == (465, "ssl", "regeling")
    assert mailer.sender == "regeling@regeling.example"
    assert mailer.mailpit_api == "http://mailpit:8025"
    assert PASSWORD not in repr(mailer)


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"SMTP_HOST": "smtp.example", "SMTP_PORT": "abc"}, "SMTP_PORT"),
        ({"SMTP_HOST": "smtp.example", "SMTP_PORT": "0"}, "SMTP_PORT"),
        ({"SMTP_HOST": "smtp.example", "SMTP_PORT": "70000"}, "SMTP_PORT"),
        ({"SMTP_HOST": "smtp.example", "SMTP_PORT": "-25"}, "SMTP_PORT"),
        ({"SMTP_HOST": "smtp.example", "SMTP_SECURITY": "tls"}, "SMTP_SECURITY"),
        ({"SMTP_HOST": "smtp.example", "SMTP_PASSWORD": PASSWORD}, "SMTP_PASSWORD"),
        ({"SMTP_HOST": "smtp.example", "SMTP_USERNAME": "regeling"}, "SMTP_USERNAME"),
        (
            {"SMTP_HOST": "smtp.example", "SMTP_SECURITY": "none", "SMTP_USERNAME": "r", "SMTP_PASSWORD": PASSWORD},
            "SMTP_SECURITY",
        ),
        ({"SMTP_HOST": "smtp.example", "MAILPIT_API": "mailpit:8025"}, "MAILPIT_API"),
        ({"SMTP_HOST": "smtp.example", "MAILPIT_API": "file:///etc/passwd"}, "MAILPIT_API"),
        ({"SMTP_HOST": "smtp.example", "MAIL_FROM": "geen adres"}, "MAIL_FROM"),
        ({"MAIL_FROM": "regeling@x.example\r\nBcc: y@x.example"}, "MAIL_FROM"),
        ({"SMTP_PORT": "25", "SMTP_PASSWORD": PASSWORD}, "SMTP_HOST"),
    ],
)
def test_bad_mail_settings_are_clear_errors(environ: dict[str, str], variable: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=variable) as caught:
        mailer_from_env(environ, instance=tmp_path)
    assert PASSWORD not in str(caught.value)


# --------------------------------------------------------------------------------------------------
# SmtpMailer against a real SMTP server on loopback.


class _Handler:
    """aiosmtpd handler: keeps what it accepted, or answers with a fixed reply."""

    def __init__(self, rcpt_reply: str | None = None, data_reply: str | None = None) -> None:
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.accepted: list[tuple[list[str], bytes]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data_reply:
            return self.data_reply
        self.accepted.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"


class _LoopbackController(Controller):  # type: ignore[misc]
    """Listens on a free port chosen by the kernel (port 0), then tells smtplib which one it got."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def smtp_server() -> Iterator[Callable[[_Handler], int]]:
    controllers: list[_LoopbackController] = []

    def start(handler: _Handler) -> int:
        controller = _LoopbackController(handler, hostname="127.0.0.1", port=0)
        controller.start()
        controllers.append(controller)
        return int(controller.port)

    yield start
    for controller in controllers:
        controller.stop()


def _smtp(port: int, **kwargs: Any) -> SmtpMailer:
    return SmtpMailer(
        "127.0.0.1",
        port,
        security="none",
        sender="regeling@regeling.example",
        timeout=5,
        clock=FrozenClock(NOW),
        **kwargs,
    )


def test_smtp_delivers_with_the_message_id_and_recipient(smtp_server: Callable[[_Handler], int]) -> None:
    handler = _Handler()
    mailer = _smtp(smtp_server(handler))
    mail = _mail()

    mailer.send(mail)

    assert len(handler.accepted) == 1
    recipients, content = handler.accepted[0]
    assert recipients == ["ontvanger@example.org"]
    received = email.message_from_bytes(content, policy=policy.default)
    assert received["Message-ID"] == mail.message_id
    assert received["To"] == "ontvanger@example.org"
    assert received["From"] == "regeling@regeling.example"
    assert received["Date"] == format_datetime(NOW)
    assert mailer.delivered(mail.message_id) is None  # plain SMTP cannot tell


@pytest.mark.parametrize(
    ("handler", "reason", "permanent"),
    [
        (_Handler(rcpt_reply="451 4.3.0 Probeer het later opnieuw"), "SMTP 451 recipient refused", False),
        (_Handler(rcpt_reply="550 5.1.1 <ontvanger@example.org>: onbekend"), "SMTP 550 recipient refused", True),
        (_Handler(data_reply="451 4.3.0 Tijdelijk niet"), "SMTP 451", False),
        (_Handler(data_reply="554 5.7.1 Geweigerd"), "SMTP 554", True),
    ],
    ids=["rcpt-451", "rcpt-550", "data-451", "data-554"],
)
def test_smtp_refusals_are_classified(
    smtp_server: Callable[[_Handler], int], handler: _Handler, reason: str, permanent: bool
) -> None:
    mailer = _smtp(smtp_server(handler))
    with pytest.raises(MailError) as caught:
        mailer.send(_mail())
    assert caught.value.permanent is permanent
    assert caught.value.reason == reason
    assert "@" not in str(caught.value)
    assert handler.accepted == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connection_refused_is_transient() -> None:
    with pytest.raises(MailError) as caught:
        _smtp(_free_port()).send(_mail())
    assert caught.value.permanent is False
    assert caught.value.reason == "ConnectionRefusedError"


def test_a_server_that_never_answers_is_a_transient_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # the kernel accepts the connection; nobody sends a greeting
        mailer = SmtpMailer(
            "127.0.0.1", silent.getsockname()[1], security="none", sender="regeling@regeling.example", timeout=0.3
        )
        with pytest.raises(MailError) as caught:
            mailer.send(_mail())
    assert caught.value.permanent is False
    assert caught.value.reason == "timeout"


# --------------------------------------------------------------------------------------------------
# Asking Mailpit whether a Message-ID arrived (a stand-in for Mailpit's search API on loopback).


class _FakeMailpit:
    def __init__(self) -> None:
        self.queries: list[str] = []
        self.message_ids: list[str] = []
        self.status = 200
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                fake.queries.append(url.path + " " + parse_qs(url.query).get("query", [""])[0])
                body = json.dumps(
                    {
                        "messages_count": len(fake.message_ids),
                        "messages": [{"ID": f"id{i}", "MessageID": m} for i, m in enumerate(fake.message_ids)],
                    }
                ).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def mailpit() -> Iterator[_FakeMailpit]:
    fake = _FakeMailpit()
    yield fake
    fake.close()


def test_delivered_asks_mailpit_for_the_message_id(mailpit: _FakeMailpit) -> None:
    mailer = _smtp(_free_port(), mailpit_api=mailpit.url + "/")
    mail = _mail()
    bare = mail.message_id.strip("<>")

    assert mailer.delivered(mail.message_id) is False
    assert mailpit.queries == [f"/api/v1/search message-id:{bare}"]

    mailpit.message_ids = ["x" + bare]  # Mailpit matches substrings: only an exact id counts
    assert mailer.delivered(mail.message_id) is False

    mailpit.message_ids = ["ander@regeling.example", bare]  # Mailpit stores it without angle brackets
    assert mailer.delivered(mail.message_id) is True

    mailpit.status = 500
    assert mailer.delivered(mail.message_id) is None


def test_delivered_is_unknown_when_mailpit_is_unreachable() -> None:
    mailer = _smtp(_free_port(), mailpit_api=f"http://127.0.0.1:{_free_port()}")
    assert mailer.delivered(_mail().message_id) is None
