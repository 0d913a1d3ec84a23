# postino: a self-hosted Telegram bot that follows parcels through TrackingMore.
#
#   docker build -t postino .
#   docker run -d --env-file .env -v postino-data:/data --restart unless-stopped postino
#
# Checked with a local stand-in of python:3.12-slim (see the README, "Docker image");
# pin the base by digest if you need reproducible builds:
#   docker build --build-arg PYTHON_IMAGE=python:3.12-slim@sha256:<digest> .
ARG PYTHON_IMAGE=python:3.12-slim

# --- build: a virtual environment with the dependencies, the bot and its catalogs --------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, from pyproject.toml alone: a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip install --requirement requirements.txt

COPY README.md ./
COPY bot ./bot
COPY locales ./locales
# The catalogs are compiled (.mo) next to their sources inside the installed package
# (python -P: import the installed bot, not the source tree in the working directory).
RUN pip install --no-deps . \
    && LOCALES="$(python -P -c 'from bot.texts.i18n import locales_dir; print(locales_dir())')" \
    && pybabel compile --domain postino --directory "$LOCALES" --statistics \
    && test -s "$LOCALES/it/LC_MESSAGES/postino.mo" && test -s "$LOCALES/en/LC_MESSAGES/postino.mo" \
    && python -m pip uninstall --yes pip

# --- runtime: the slim base, the virtual environment, a fixed non-root user ---------------
FROM ${PYTHON_IMAGE}
ARG UID=10001
RUN groupadd --system --gid "${UID}" postino \
    && useradd --system --uid "${UID}" --gid postino --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin postino \
    && mkdir /data \
    && chown postino:postino /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATABASE_PATH=/data/postino.sqlite3 \
    BACKUP_DIR=/data/backups
WORKDIR /app
USER ${UID}:${UID}
VOLUME ["/data"]
# Only used with WEBHOOK_LISTEN=0.0.0.0:8080 (TrackingMore pushes, Telegram webhook, metrics).
EXPOSE 8080
STOPSIGNAL SIGTERM
# Fails while the bot is starting, and when it has not completed a Telegram round-trip
# or a poll cycle recently.
HEALTHCHECK --interval=60s --timeout=15s --start-period=120s --retries=3 \
    CMD ["python", "-m", "bot", "health"]
# Exec form: python is PID 1 and receives SIGTERM itself.
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
