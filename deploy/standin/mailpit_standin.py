"""Stand-in for Mailpit where its image cannot be pulled (deploy/standin/build.sh): SMTP on port 1025, and on
port 8025 the two calls of Mailpit's HTTP API that the workers (``engine.mail.SmtpMailer.delivered``) and the
compose test make, in Mailpit's JSON shape:

- ``GET /api/v1/messages``: every message kept, newest first;
- ``GET /api/v1/search?query=message-id:<id>``: the messages whose Message-ID contains ``<id>``.

Messages live in memory (as in Mailpit without a database file). It runs with Debian's python3-aiosmtpd only.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import uuid
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

SMTP_PORT = 1025
API_PORT = 8025


class Mailbox:
    def __init__(self) -> None:
        self.summaries: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        message = message_from_bytes(content, policy=policy.default)
        summary = {
            "ID": uuid.uuid4().hex,
            "MessageID": str(message.get("Message-ID", "")).strip().strip("<>"),
            "From": _address(str(envelope.mail_from or "")),
            "To": [_address(recipient) for recipient in envelope.rcpt_tos],
            "Subject": str(message.get("Subject", "")),
            "Created": datetime.now(UTC).isoformat(),
        }
        with self.lock:
            self.summaries.insert(0, summary)
        return "250 OK"

    def matching(self, query: str) -> list[dict[str, Any]]:
        wanted = query.removeprefix("message-id:").strip().lower() if query.startswith("message-id:") else None
        with self.lock:
            return [s for s in self.summaries if wanted is None or wanted in s["MessageID"].lower()]


def _address(text: str) -> dict[str, str]:
    try:
        parsed = Address(addr_spec=text.strip("<>"))
    except (ValueError, IndexError):
        return {"Name": "", "Address": text}
    return {"Name": parsed.display_name, "Address": parsed.addr_spec}


def api_handler(mailbox: Mailbox) -> type[BaseHTTPRequestHandler]:
    class Api(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            url = urlsplit(self.path)
            if url.path == "/api/v1/messages":
                found = mailbox.matching("")
            elif url.path == "/api/v1/search":
                found = mailbox.matching(parse_qs(url.query).get("query", [""])[0])
            else:
                self.send_error(404)
                return
            body = json.dumps({"total": len(found), "messages_count": len(found), "messages": found}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass  # addresses and subjects stay out of the container's log

    return Api


def main() -> None:
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="0.0.0.0", port=SMTP_PORT)  # noqa: S104 - a container's own interface
    smtp.start()
    api = ThreadingHTTPServer(("0.0.0.0", API_PORT), api_handler(mailbox))  # noqa: S104
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=api.shutdown).start())
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("mailpit-standin").info("mailpit stand-in: SMTP on %s, API on %s", SMTP_PORT, API_PORT)
    try:
        api.serve_forever()
    finally:
        smtp.stop()


if __name__ == "__main__":
    main()
