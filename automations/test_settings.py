"""Settings for the test suite: the real settings with a fixed key and a file-based test database.

The test database is a file so that worker processes (`qcluster`) started by integration tests
see the same data as the test itself.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

from automations.settings import *  # noqa: E402,F403
from automations.settings import BASE_DIR, CACHES, DATABASES  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("EVENTTREE_TEST_DB", str(BASE_DIR / ".pytest-db.sqlite3"))
    }

if "REDIS_URL" not in os.environ:
    CACHES = {
        "default": {
            **CACHES["default"],
            "LOCATION": os.environ.get("EVENTTREE_TEST_CACHE", str(BASE_DIR / ".pytest-cache-dir")),
        }
    }

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
