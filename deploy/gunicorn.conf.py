"""gunicorn settings for the web processes (docker compose, the topology test): all from the environment."""

import os

bind = os.environ.get("REGELING_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
threads = int(os.environ.get("WEB_THREADS", "2"))
timeout = 30
graceful_timeout = 20
# gunicorn's lines as the app's (JSON with the request id); an access line has the path without its query string,
# the status and the time: never a query value.
logger_class = "web.gunicorn_logs.GunicornLogger"
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker):
    from web.warmup import settle

    settle(worker.wsgi)
