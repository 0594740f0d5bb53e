# Stand-in for python:3.11-slim, built from Debian bookworm by deploy/standin/build.sh: Python 3.11 with pip on
# PATH (a venv in /opt/python, so `pip install` is allowed as in the official image), useradd, C.UTF-8.
FROM regeling-standin/debian:bookworm
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# The build machine's own certificate authorities (an egress proxy's, say), so pip reaches PyPI from here too.
COPY local-ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null && python3 -m venv /opt/python
ENV PATH=/opt/python/bin:$PATH LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
