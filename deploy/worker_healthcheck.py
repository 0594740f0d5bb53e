"""The worker container's health check (docker-compose.yml): the worker touches REGELING_WORKER_HEARTBEAT after
every pass and every e-mail it sends, so a file older than MAX_AGE_SECONDS (or none) means a worker that hangs.
Exit status 0 when healthy, 1 otherwise."""

from __future__ import annotations

import os
import sys
import time

# Idle passes come every 5 s; one e-mail waits at most 10 s for the mail server.
MAX_AGE_SECONDS = 120


def main() -> int:
    path = os.environ.get("REGELING_WORKER_HEARTBEAT", "").strip()
    if not path:
        sys.stderr.write("REGELING_WORKER_HEARTBEAT is not set\n")
        return 1
    try:
        age = time.time() - os.stat(path).st_mtime
    except OSError:
        return 1  # not written yet, or not writable: the worker logs why
    return 0 if age < MAX_AGE_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
