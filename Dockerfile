# syntax=docker/dockerfile:1
# The one image web, worker and beat run (docker-compose.yml). Build: docker compose build

# --- front-end libraries (weui, htmx, echarts) from package-lock.json -----------------------------
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts/build_assets.sh scripts/build_assets.sh
RUN ./scripts/build_assets.sh

# --- the application --------------------------------------------------------------------------
FROM python:3.11-slim AS app
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    STATIC_ROOT=/app/var/static \
    MEDIA_ROOT=/app/var/media
WORKDIR /app

RUN groupadd --system --gid 1000 app \
    && useradd --system --uid 1000 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

# Runtime dependencies: pyproject's direct dependencies, every version pinned by requirements.lock
# (the lock also pins the dev tools, which the image does not need).
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt -c requirements.lock \
    && rm /tmp/requirements.txt

COPY --chown=app:app . .
COPY --from=assets --chown=app:app /src/static/vendor static/vendor

# Hashed, compressed static files baked into the image; web collects them again into the shared
# volume on start (the volume would otherwise keep an older release's files).
RUN mkdir -p var/static var/media var/celery \
    && DEBUG=0 SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0 \
    && chown -R app:app var

USER app
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--config", "deploy/gunicorn.conf.py"]
