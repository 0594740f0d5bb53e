"""A real SMTP server on loopback for the worker tests (aiosmtpd), with a Mailpit-style search API so a
worker can ask whether a Message-ID was accepted. It can be told to refuse (451/550) or to be slow."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    to: list[str]
    message: Message

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])


@dataclass
class MailServer:
    """What arrived, and how the server should behave for the next messages."""

    received: list[Received] = field(default_factory=list)
    refuse_with: str | None = None  # e.g. "451 4.3.0 probeer later" or "550 5.1.1 onbekend"
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        if self.refuse_with:
            return self.refuse_with
        if self.delay:
            time.sleep(self.delay)
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        with self.lock:
            self.received.append(Received(list(envelope.rcpt_tos), message_from_bytes(content, policy=policy.default)))
        return "250 OK"

    def message_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(item.message_id for item in self.received)

    def by_recipient(self) -> Counter[tuple[str, str]]:
        with self.lock:
            return Counter((to, item.subject) for item in self.received for to in item.to)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _SearchApi(BaseHTTPRequestHandler):
    server_state: MailServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        query = parse_qs(urlparse(self.path).query).get("query", [""])[0]
        wanted = query.removeprefix("message-id:")
        found = [{"MessageID": mid.strip("<>")} for mid in self.server_state.message_ids() if wanted in mid.lower()]
        body = json.dumps({"messages": found, "messages_count": len(found)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


class RunningMailServer:
    def __init__(self) -> None:
        self.state = MailServer()
        self.port = free_port()
        self.controller = Controller(self.state, hostname="127.0.0.1", port=self.port)
        handler = type("Api", (_SearchApi,), {"server_state": self.state})
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.api_url = f"http://127.0.0.1:{self.http.server_address[1]}"

    def start(self) -> RunningMailServer:
        # The port was free when chosen; another process may take it before the server binds it.
        for _attempt in range(5):
            try:
                self.controller.start()
                break
            except (OSError, RuntimeError):
                self.port = free_port()
                self.controller = Controller(self.state, hostname="127.0.0.1", port=self.port)
        else:
            raise RuntimeError("no free port for the test mail server")
        threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop taking mail (the SMTP port closes); the search API stays up until ``close``."""
        if self.controller._thread is not None:  # noqa: SLF001 - aiosmtpd has no public "running"
            self.controller.stop()

    def close(self) -> None:
        self.stop()
        self.http.shutdown()
        self.http.server_close()

    def env(self) -> dict[str, str]:
        return {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.port),
            "SMTP_SECURITY": "none",
            "MAIL_FROM": "regeling@voorbeeld.invalid",
            "MAILPIT_API": self.api_url,
        }
