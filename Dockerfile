# One image for the three app processes (web, worker, beat); docker-compose.yml picks the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 VAR_DIR=/app/var
WORKDIR /app

COPY pyproject.toml requirements.lock README.md ./
COPY released_sync ./released_sync
COPY companies ./companies
COPY quickbooks_link ./quickbooks_link
COPY sync_engine ./sync_engine
COPY qbo_sandbox ./qbo_sandbox
COPY templates ./templates
COPY static ./static
COPY manage.py ./
RUN pip install --constraint requirements.lock . \
    && useradd --system --uid 1000 --home /app app \
    && mkdir -p /app/var && chown app /app/var

# collectstatic needs settings that load; these build-time values never reach a running container.
RUN DEBUG=False SECRET_KEY=build-only FIELD_ENCRYPTION_KEY=YnVpbGQtb25seS1rZXktbmV2ZXItdXNlZC1hdC1ydW4= \
    python manage.py collectstatic --no-input

USER app
EXPOSE 8000
CMD ["gunicorn", "released_sync.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
