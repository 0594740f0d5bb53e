"""A person's browser over plain HTTP (http.client): cookies, CSRF tokens from the pages, forms with uploads.

Each request goes to the next of the web processes in turn, as a load balancer would send it; the login lives
in the database, so any process serves any request. Every status is recorded for the "no 500" check.
"""

from __future__ import annotations

import http.client
import re
import secrets
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from itertools import count
from typing import Any
from urllib.parse import urlencode

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
LOCK_VERSION = re.compile(r'name="lock_version" value="(\d+)"')


@dataclass
class Statuses:
    """Every response status of every browser, and where each 5xx came from."""

    counts: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, method: str, path: str, status: int) -> None:
        with self.lock:
            self.counts[status] += 1
            if status >= 500:
                self.server_errors.append(f"{method} {path} -> {status}")


@dataclass(frozen=True)
class Response:
    status: int
    location: str
    text: str

    def token(self) -> str:
        match = TOKEN.search(self.text)
        assert match, f"a page without a CSRF token (status {self.status})"
        return match.group(1)

    def lock_version(self) -> str:
        match = LOCK_VERSION.search(self.text)
        assert match, f"a form without a lock_version (status {self.status})"
        return match.group(1)


class Browser:
    def __init__(self, ports: Sequence[int], statuses: Statuses, cookies: Mapping[str, str] | None = None) -> None:
        self.ports = list(ports)
        self.statuses = statuses
        self.cookies = dict(cookies or {})
        self._connections: dict[int, http.client.HTTPConnection] = {}
        self._turn = count()

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(
        self, path: str, fields: Mapping[str, Any], files: Mapping[str, tuple[str, bytes]] | None = None
    ) -> Response:
        if files:
            body, content_type = multipart(fields, files)
        else:
            body, content_type = urlencode(list(_pairs(fields))).encode(), "application/x-www-form-urlencoded"
        return self.request("POST", path, body, content_type)

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str = "") -> Response:
        port = self.ports[next(self._turn) % len(self.ports)]
        headers = {"Host": f"127.0.0.1:{port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if content_type:
            headers["Content-Type"] = content_type
        response = self._send(port, method, path, body, headers)
        text = response.read().decode("utf-8", "replace")
        self._take_cookies(response.headers.get_all("Set-Cookie") or [])
        self.statuses.record(method, path, response.status)
        return Response(response.status, response.headers.get("Location", ""), text)

    def _send(
        self, port: int, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> http.client.HTTPResponse:
        for attempt in range(2):
            connection = self._connections.get(port)
            if connection is None:
                connection = self._connections[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                connection.request(method, path, body=body, headers=headers)
                return connection.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # gunicorn closed the idle keep-alive connection: once more on a new one
                connection.close()
                del self._connections[port]
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _take_cookies(self, headers: list[str]) -> None:
        for header in headers:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()


def _pairs(fields: Mapping[str, Any]) -> list[tuple[str, str]]:
    pairs = []
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, str(item)))
    return pairs


def multipart(fields: Mapping[str, Any], files: Mapping[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = f"----topologie{secrets.token_hex(12)}"
    parts: list[bytes] = []
    for name, value in _pairs(fields):
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, content) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
