"""The web container's health check (docker-compose.yml): ``/gereed`` of this container, asked with the host name
of REGELING_BASE_URL, so it passes whatever REGELING_TRUSTED_HOSTS allows (127.0.0.1 need not be one of them).
Exit status 0 when ready, 1 otherwise."""

from __future__ import annotations

import os
import sys
import urllib.parse
import urllib.request


def ready_request() -> urllib.request.Request:
    port = os.environ.get("REGELING_BIND", "0.0.0.0:8000").rsplit(":", 1)[-1]
    host = urllib.parse.urlsplit(os.environ.get("REGELING_BASE_URL", "")).netloc or f"127.0.0.1:{port}"
    return urllib.request.Request(f"http://127.0.0.1:{port}/gereed", headers={"Host": host})


def main() -> int:
    try:
        with urllib.request.urlopen(ready_request(), timeout=5) as response:  # noqa: S310 (a fixed http URL)
            return 0 if response.status == 200 else 1
    except (OSError, ValueError):  # refused, 4xx/5xx (HTTPError), a timeout
        return 1


if __name__ == "__main__":
    sys.exit(main())
