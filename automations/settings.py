"""Settings for eventtree, read from the environment.

Embedded default (nothing set): SQLite in WAL mode and django-q2's ORM broker.
Scale-out: DATABASE_URL (PostgreSQL) and REDIS_URL (django-q2's Redis broker).
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_networks(name: str) -> bool | list[str]:
    """`1` (or true/yes/on): every address; unset, empty or `0`: none; otherwise a comma-separated
    list of networks (`127.0.0.1/32,10.20.0.0/16`), each checked here."""
    value = os.environ.get(name, "").strip()
    if value.lower() in {"", "0", "false", "no", "off"}:
        return False
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    networks = env_list(name)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {network!r} is not a network (e.g. 10.20.0.0/16)") from None
    return networks


def env_secrets(name: str) -> dict[str, str]:
    """A JSON object of secret names and their string values. A malformed value is refused with
    a message that never repeats it (it holds secrets)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return {}
    try:
        secrets = json.loads(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a JSON object of names and strings.") from None
    if not isinstance(secrets, dict) or not all(
        isinstance(key, str) and key.isidentifier() and isinstance(item, str) for key, item in secrets.items()
    ):
        raise ImproperlyConfigured(f"{name} must be a JSON object of names (identifiers) and strings.")
    return secrets


DEBUG = env_bool("DJANGO_DEBUG")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
if DEBUG:
    SECRET_KEY = SECRET_KEY or "insecure-development-key-do-not-use-in-production"
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost", "[::1]"]
elif len(SECRET_KEY) < 32 or SECRET_KEY.startswith("insecure"):
    raise ImproperlyConfigured(
        "Set DJANGO_SECRET_KEY to a random string of 32 characters or more "
        "(or DJANGO_DEBUG=1 for development)."
    )
elif not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Set DJANGO_ALLOWED_HOSTS (comma-separated) when DEBUG is off.")

CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_q",
    "eventtree",
    # Apps that register more action types in their AppConfig.ready(), e.g. "myproject.actions".
    *env_list("EVENTTREE_EXTRA_APPS"),
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "eventtree.views.limits.RequestBodyLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "automations.urls"
WSGI_APPLICATION = "automations.wsgi.application"

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
            ],
        },
    },
]

DATA_DIR = Path(os.environ.get("EVENTTREE_DATA_DIR", BASE_DIR / "data"))

# SQLite needs IMMEDIATE transactions, WAL and a busy timeout to take concurrent writers
# (web and workers) without "database is locked"; see shared STACK.md.
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;",
}

DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}")
# Connections are kept between requests and tasks (checked before reuse): opening one per poll
# and per task cost more than the query it was opened for.
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE", "600")), conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = dict(SQLITE_OPTIONS)
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)

# The engine caches which trees are active per (form, event) and forgets it when a tree changes;
# the cache must be shared by the web and worker processes for that to reach them all.
CACHES = {
    "default": {
        # Django's Redis cache, reusing its client (automations/cache.py).
        "BACKEND": "automations.cache.RedisCache",
        "LOCATION": os.environ["REDIS_URL"],
        "KEY_PREFIX": "eventtree",
    }
    if os.environ.get("REDIS_URL")
    else {
        # Django's file-based cache, culled every 30 s instead of at every write (automations/cache.py).
        "BACKEND": "automations.cache.FileCache",
        "LOCATION": str(DATA_DIR / "cache"),
        "OPTIONS": {"MAX_ENTRIES": 20000, "CULL_SECONDS": 30},
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Visitors of a login-only form sign in here; the builder and the admin keep the admin's login.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "eventtree:home"
LOGOUT_REDIRECT_URL = "eventtree:home"

# The largest request body a view takes unless it says otherwise (the package import takes 8 MB: a new file and the one kept from a refused try).
# DATA_UPLOAD_MAX_MEMORY_SIZE does not count file parts, so this is checked on Content-Length
# before anything reads the body (eventtree/views/limits.py).
EVENTTREE_MAX_BODY_BYTES = int(os.environ.get("EVENTTREE_MAX_BODY_BYTES", str(2_621_440)))  # 2.5 MB
# The largest CSV file the builder's import takes (the body around it a little more); a larger
# one gets the 413 page. The command line has no limit: it reads the file as a stream.
EVENTTREE_IMPORT_MAX_BYTES = int(os.environ.get("EVENTTREE_IMPORT_MAX_BYTES", str(50 * 1024 * 1024)))  # 50 MB
# The largest JSON body POST /hooks/<slug>/ takes (eventtree/views/webhooks.py answers 413 above it).
EVENTTREE_WEBHOOK_MAX_BODY_BYTES = int(os.environ.get("EVENTTREE_WEBHOOK_MAX_BODY_BYTES", str(64 * 1024)))

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "eventtree@localhost")

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)

# django-q2. Timeout stays under retry so that the ORM broker does not re-deliver a task that
# is merely slow; the block table, not the broker, decides whether work runs (DESIGN §3.3).
REDIS_URL = os.environ.get("REDIS_URL", "")
Q_CLUSTER = {
    "name": os.environ.get("EVENTTREE_CLUSTER_NAME", "eventtree"),
    "workers": int(os.environ.get("EVENTTREE_WORKERS", "2")),
    "timeout": int(os.environ.get("EVENTTREE_TASK_TIMEOUT", "120")),
    "retry": int(os.environ.get("EVENTTREE_TASK_RETRY", "180")),
    "max_attempts": 1,
    "queue_limit": int(os.environ.get("EVENTTREE_WORKERS", "2")),
    # The block table records what ran; a successful task's result is not kept (each save cost
    # ~7 statements and a prune over 250 rows in the single monitor process). Failures are.
    "save_limit": -1,
    "catch_up": False,
    "ack_failures": True,
    "poll": 0.5,
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# Engine settings.
EVENTTREE = {
    # Seconds a worker holds a claimed block before the sweeper may hand it to another worker.
    "BLOCK_LEASE_SECONDS": int(os.environ.get("EVENTTREE_BLOCK_LEASE_SECONDS", "300")),
    # First retry delay of a failed block; it doubles at each attempt.
    "RETRY_BASE_SECONDS": float(os.environ.get("EVENTTREE_RETRY_BASE_SECONDS", "10")),
    # How often the sweeper looks for lost blocks (django-q2 schedules run at most every 30 s).
    "SWEEP_MINUTES": 1,
    # The longest sleep of the timer loop between two looks for due blocks (engine/timers.py):
    # the most a block made by another process waits after its due time, and one query per look.
    "TIMER_MAX_SLEEP_SECONDS": 1.0,
    # A wake-up handed to the broker this long ago, for a block still pending, is presumed lost
    # and sent again by the sweeper (django-q2's own re-delivery time).
    "WAKE_LOST_SECONDS": int(os.environ.get("EVENTTREE_TASK_RETRY", "180")),
    "MAX_RECORD_CHAIN": 10,
    # A CSV import's rows per chunk: one task and one transaction each (DESIGN §3.7).
    "IMPORT_CHUNK_ROWS": int(os.environ.get("EVENTTREE_IMPORT_CHUNK_ROWS", "100")),
    # How many chunks of one import wait in the broker or run at a time (the next one is handed
    # over as one finishes), so that an import does not queue every chunk ahead of the visitors'
    # blocks. Four a worker: fewer leave workers idle between two polls of the broker.
    "IMPORT_CHUNKS_AT_ONCE": int(os.environ.get("EVENTTREE_IMPORT_CHUNKS_AT_ONCE",
                                                4 * int(os.environ.get("EVENTTREE_WORKERS", "2")))),
    # An import still reading its file this long after it started is given up by the sweeper: the
    # process reading it has stopped (a web process killed during an upload). Reading the largest
    # file allowed (EVENTTREE_IMPORT_MAX_BYTES) takes well under a minute.
    "IMPORT_READ_STALE_SECONDS": 15 * 60,
    # A tree mails at most one failure alert per this many minutes; failures in between are
    # gathered into one email at the end of that time (engine/alerts.py).
    "ALERT_MINUTES": float(os.environ.get("EVENTTREE_ALERT_MINUTES", "15")),
    # Where staff reach this site: the start of the links in emails to them.
    "BASE_URL": os.environ.get("EVENTTREE_BASE_URL", "http://127.0.0.1:8000"),
    # Addresses an http_request may call besides public ones: False (none), True (every private,
    # loopback and link-local address) or a list of networks (actions/http_client.py).
    "HTTP_ALLOW_PRIVATE": env_networks("EVENTTREE_HTTP_ALLOW_PRIVATE"),
    # The values of {{ secrets.NAME }} in an http_request, inserted only when the request is sent.
    "HTTP_SECRETS": env_secrets("EVENTTREE_HTTP_SECRETS"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    # django-q2 logs as "django-q", not as its package's name.
    "loggers": {
        "django-q": {"level": os.environ.get("DJANGO_Q_LOG_LEVEL", "WARNING")},
        # httpx logs each request's URL at INFO: an http_request's URL may hold a secret.
        "httpx": {"level": "WARNING"},
    },
}
