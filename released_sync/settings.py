"""Settings for released-sync: one module, driven by environment variables (see README).

With no environment at all it runs the demo: SQLite and a serverless Celery broker under var/.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from released_sync.env import (
    database_from_url,
    env,
    envbool,
    envchoice,
    envfloat,
    envint,
    envlist,
    envsecret,
    fernet_keys,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = envbool("DEBUG", "True")

# Development defaults: refused below when DEBUG is off, so production cannot run on them.
DEV_SECRET_KEY = "dev-only-secret-key-never-use-in-production-9f1c2e7a"
DEV_FIELD_ENCRYPTION_KEY = "ZGV2LW9ubHkta2V5LWZvci1sb2NhbC1kZW1vLXVzZSE="
SECRET_KEY = envsecret("SECRET_KEY", DEV_SECRET_KEY)
FIELD_ENCRYPTION_KEYS = fernet_keys(
    "FIELD_ENCRYPTION_KEY", envsecret("FIELD_ENCRYPTION_KEY", DEV_FIELD_ENCRYPTION_KEY)
)
if not DEBUG and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is False")
if not DEBUG and DEV_FIELD_ENCRYPTION_KEY in FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set when DEBUG is False")

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_celery_beat",
    "companies",
    "quickbooks_link",
    "sync_engine",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "released_sync.urls"
WSGI_APPLICATION = "released_sync.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "companies.context_processors.current_company",
                "quickbooks_link.context_processors.reconnect_banners",
            ],
        },
    },
]

# SQLite by default so a fresh checkout runs with no services; PostgreSQL in production.
DATABASES = {
    "default": database_from_url(env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Production runs behind a TLS-terminating proxy; these follow DEBUG unless set explicitly.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", str(not DEBUG))
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", str(not DEBUG))
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", str(not DEBUG))
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000")
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", str(not DEBUG))
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "False")
# Joining the browsers' preload list is hard to undo, so it is the operator's explicit choice.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Email: console in development; SMTP when EMAIL_HOST is set.
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "released-sync <noreply@localhost>")
EMAIL_HOST = env("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = envint("EMAIL_PORT", "587")
    EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = envsecret("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "True")
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# Celery. Without CELERY_BROKER_URL the demo uses kombu's filesystem transport under var/,
# which needs no server; production points this at Redis.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Longer than any task's time limit, so a slow task is never delivered twice while it runs.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL must be a redis:// URL or filesystem://, got {CELERY_BROKER_URL!r}"
    )
CELERY_TASK_IGNORE_RESULT = True  # run state lives in SyncRun, not in a result backend
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Two queues: single-record syncs (a person just saved a document) must never wait behind bulk
# work, so they have their own queue, which workers consume first.
CELERY_TASK_DEFAULT_QUEUE = "bulk"
CELERY_TASK_ROUTES = {"sync_engine.tasks.sync_record": {"queue": "on_demand"}}
# A run stuck longer than this is abandoned by its worker (and later marked failed by the reaper).
SYNC_RUN_SOFT_TIME_LIMIT = envint("SYNC_RUN_SOFT_TIME_LIMIT", str(30 * 60))
SYNC_RUN_STALE_AFTER = envint("SYNC_RUN_STALE_AFTER", str(10 * 60))
# Retries of a failed call to QuickBooks within a run (5xx, dropped connections), with backoff.
SYNC_TRANSIENT_RETRIES = envint("SYNC_TRANSIENT_RETRIES", "3")
# A push whose answer never came is reconciled only after this long: QuickBooks gives up on a
# request after 120 s, so by then it has either written the record or never will.
SYNC_PENDING_LEASE = envint("SYNC_PENDING_LEASE", "300")
# The automatic cycle spreads its requests over this many seconds.
SYNC_SPREAD_SECONDS = envint("SYNC_SPREAD_SECONDS", "300")
CELERY_TIMEZONE = TIME_ZONE

# QuickBooks Online. "local" talks to the qbo_sandbox emulator at QBO_SANDBOX_URL.
QBO_ENVIRONMENT = envchoice("QBO_ENVIRONMENT", "local", ("local", "sandbox", "production"))
QBO_SANDBOX_URL = env("QBO_SANDBOX_URL", "http://127.0.0.1:8100").rstrip("/")
QBO_CLIENT_ID = env("QBO_CLIENT_ID", "sandbox-client-id" if QBO_ENVIRONMENT == "local" else "")
QBO_CLIENT_SECRET = envsecret(
    "QBO_CLIENT_SECRET", "sandbox-client-secret" if QBO_ENVIRONMENT == "local" else ""
)
QBO_REDIRECT_URI = env("QBO_REDIRECT_URI", f"{SITE_URL}/quickbooks/callback/")
QBO_WEBHOOK_VERIFIER_TOKEN = envsecret("QBO_WEBHOOK_VERIFIER_TOKEN", "")
# Seconds before a call to QuickBooks is abandoned (neither client library sets a timeout).
QBO_HTTP_TIMEOUT = envint("QBO_HTTP_TIMEOUT", "30")
# Intuit's per-realm limits are per minute; only a time-compressed local sandbox changes this.
QBO_LIMIT_MINUTE_SECONDS = envfloat("QBO_LIMIT_MINUTE_SECONDS", "60")
# How long a request may wait for room under the limits, and how often a 429 is waited out.
QBO_LIMIT_MAX_WAIT = envint("QBO_LIMIT_MAX_WAIT", "120")
QBO_THROTTLE_RETRIES = envint("QBO_THROTTLE_RETRIES", "4")
if SYNC_PENDING_LEASE < 2 * QBO_HTTP_TIMEOUT:
    # A shorter lease would let a later run resend a create QuickBooks may still be writing.
    raise ImproperlyConfigured("SYNC_PENDING_LEASE must be at least twice QBO_HTTP_TIMEOUT")

if QBO_ENVIRONMENT != "local" and not (QBO_CLIENT_ID and QBO_CLIENT_SECRET):
    raise ImproperlyConfigured(
        f"QBO_ENVIRONMENT={QBO_ENVIRONMENT} needs QBO_CLIENT_ID and QBO_CLIENT_SECRET"
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}
