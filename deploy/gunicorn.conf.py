"""gunicorn settings for the web processes (docker compose, the topology test): all from the environment."""

import os

bind = os.environ.get("REGELING_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
threads = int(os.environ.get("WEB_THREADS", "2"))
timeout = 30
graceful_timeout = 20
# The path without its query string, the status, the time and the request id: never a query value.
accesslog = "-"
access_log_format = "%({x-request-id}o)s %(m)s %(U)s %(s)s %(L)s"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
