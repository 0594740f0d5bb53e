# Stand-in for axllent/mailpit, built from Debian bookworm by deploy/standin/build.sh: SMTP on 1025 and the part
# of Mailpit's HTTP API on 8025 that the workers and the compose test use (mailpit_standin.py). No web UI.
FROM regeling-standin/debian:bookworm
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-aiosmtpd \
    && rm -rf /var/lib/apt/lists/*
COPY mailpit_standin.py /usr/local/bin/mailpit_standin.py
EXPOSE 1025 8025
USER nobody
CMD ["python3", "/usr/local/bin/mailpit_standin.py"]
