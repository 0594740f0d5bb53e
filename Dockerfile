# The web app and the worker: one image, two commands (see docker-compose.yml).
# PYTHON_IMAGE: another base only where Docker Hub cannot be reached (deploy/standin/).
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title=regeling

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY engine ./engine
COPY web ./web
COPY processes ./processes
COPY forms ./forms
COPY deploy ./deploy
# Editable: the code runs from /app, where `regeling init` finds processes/ and forms/ next to engine/ (an
# install into site-packages would look for them there and find nothing).
RUN pip install -e . && useradd --create-home --uid 10001 regeling && mkdir -p /app/var && chown regeling /app/var

USER regeling
EXPOSE 8000
CMD ["gunicorn", "--config", "deploy/gunicorn.conf.py", "web.wsgi:app"]
