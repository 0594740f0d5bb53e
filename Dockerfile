# The web app and the worker: one image, two commands (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY engine ./engine
COPY web ./web
COPY processes ./processes
COPY forms ./forms
COPY deploy ./deploy
RUN pip install . && useradd --create-home --uid 10001 regeling && mkdir -p /app/var && chown regeling /app/var

USER regeling
EXPOSE 8000
CMD ["gunicorn", "--config", "deploy/gunicorn.conf.py", "web.wsgi:app"]
