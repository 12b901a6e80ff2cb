"""Django settings for Stepwell, read from the environment.

- ``DATABASE_URL``: ``sqlite:///path`` (default ``var/stepwell.sqlite3``) or ``postgresql://…``.
- ``SECRET_KEY``: required when ``STEPWELL_ENV=production``; in development it is generated
  once and kept in ``var/secret_key``.
- ``STEPWELL_ENV``: ``development`` (default) or ``production`` (secure settings on).
- ``ALLOWED_HOSTS``: comma-separated; required in production.
- ``DB_CONN_MAX_AGE``: seconds to keep PostgreSQL connections between requests (default 0).
- ``STEPWELL_DEBUG=1``: Django debug pages (never in production: they can show patient data).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from stepwell.config.database import database_from_url

# Lets admin and queryset classes take type arguments at run time (ModelAdmin[Site]).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parents[1]  # src/stepwell
REPO_DIR = Path(os.environ.get("STEPWELL_HOME", BASE_DIR.parents[1]))
VAR_DIR = Path(os.environ.get("STEPWELL_VAR", REPO_DIR / "var"))
CONTENT_DIR = Path(os.environ.get("STEPWELL_CONTENT", REPO_DIR / "content"))

STEPWELL_ENV = os.environ.get("STEPWELL_ENV", "development")
if STEPWELL_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(
        f"STEPWELL_ENV: {STEPWELL_ENV!r} is not one of development, production"
    )
PRODUCTION = STEPWELL_ENV == "production"
DEBUG = os.environ.get("STEPWELL_DEBUG") == "1" and not PRODUCTION


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY", "")
    if key:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY: required when STEPWELL_ENV=production")
    path = VAR_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


SECRET_KEY = _secret_key()

_hosts = os.environ.get("ALLOWED_HOSTS", "")
if _hosts:
    ALLOWED_HOSTS = [h.strip() for h in _hosts.split(",") if h.strip()]
elif PRODUCTION:
    raise ImproperlyConfigured("ALLOWED_HOSTS: required when STEPWELL_ENV=production")
else:
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

try:
    _conn_max_age = int(os.environ.get("DB_CONN_MAX_AGE", "0"))
except ValueError:
    raise ImproperlyConfigured("DB_CONN_MAX_AGE: must be a whole number of seconds") from None
DATABASES = {
    "default": database_from_url(
        os.environ.get("DATABASE_URL", ""),
        default_sqlite=VAR_DIR / "stepwell.sqlite3",
        conn_max_age=_conn_max_age,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "stepwell.apps.core",
    "stepwell.apps.accounts",
    "stepwell.apps.network",
    "stepwell.apps.patients",
    "stepwell.apps.peers",
    "stepwell.apps.audit",
    "stepwell.apps.access",
    "stepwell.apps.measurement",
    "stepwell.apps.stepping",
    "stepwell.apps.outbox",
    "stepwell.apps.safety",
    "stepwell.apps.sync",
    "stepwell.apps.coordination",
    "stepwell.apps.jobs",
    "stepwell.apps.region",
    "stepwell.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "stepwell.apps.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "stepwell.config.urls"
WSGI_APPLICATION = "stepwell.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "stepwell.web.context.safety_alert",
            ],
        },
    }
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses locked-out log-ins before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Lockout: by user name (whatever the address), and by address + browser together. A rural
# clinic shares one public address, so the address alone would lock out the whole clinic.
AXES_FAILURE_LIMIT = int(os.environ.get("STEPWELL_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username", ["ip_address", "user_agent"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "stepwell.apps.accounts.lockout.lockout_response"
AXES_VERBOSE = False

# Instrument definition files: content/instruments plus extra directories (os.pathsep list).
STEPWELL_INSTRUMENT_DIRS = [CONTENT_DIR / "instruments"] + [
    Path(p) for p in os.environ.get("STEPWELL_INSTRUMENT_DIRS", "").split(os.pathsep) if p
]

# The stepped-care protocol in force (a file; see docs/protocol-format.md).
STEPWELL_PROTOCOL_FILE = Path(
    os.environ.get("STEPWELL_PROTOCOL_FILE", str(CONTENT_DIR / "protocols" / "default.yaml"))
)
# Crisis contact numbers printed with safety plans (per region, per-site overrides).
STEPWELL_CRISIS_LINES_FILE = Path(
    os.environ.get("STEPWELL_CRISIS_LINES_FILE", str(CONTENT_DIR / "safety" / "crisis_lines.yaml"))
)

# Outgoing SMS and e-mail (safety notifications, reminders): one gateway class per channel,
# each with ``send(message) -> provider id`` (stepwell.apps.outbox.gateways). The default
# writes every message as a JSON line to var/outbox/<channel>.jsonl, once per message key.
STEPWELL_SMS_GATEWAY = os.environ.get(
    "STEPWELL_SMS_GATEWAY", "stepwell.apps.outbox.gateways.FileGateway"
)
STEPWELL_EMAIL_GATEWAY = os.environ.get(
    "STEPWELL_EMAIL_GATEWAY", "stepwell.apps.outbox.gateways.FileGateway"
)
# HttpSmsGateway: POSTs JSON to this URL; HTTP Basic (user/password) or a bearer token.
STEPWELL_SMS_HTTP_URL = os.environ.get("STEPWELL_SMS_HTTP_URL", "")
STEPWELL_SMS_HTTP_USER = os.environ.get("STEPWELL_SMS_HTTP_USER", "")
STEPWELL_SMS_HTTP_PASSWORD = os.environ.get("STEPWELL_SMS_HTTP_PASSWORD", "")
STEPWELL_SMS_HTTP_TOKEN = os.environ.get("STEPWELL_SMS_HTTP_TOKEN", "")
STEPWELL_SMS_HTTP_TIMEOUT = float(os.environ.get("STEPWELL_SMS_HTTP_TIMEOUT", "10"))
# Inbound SMS (POST /api/v1/sms/inbound): the secret the gateway sends in the
# X-Stepwell-Webhook-Secret header. Unset: the webhook answers 503 (not configured).
STEPWELL_SMS_WEBHOOK_SECRET = os.environ.get("STEPWELL_SMS_WEBHOOK_SECRET", "")
# SmtpEmailGateway: Django's e-mail settings (used only when STEPWELL_EMAIL_GATEWAY names it).
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("STEPWELL_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("STEPWELL_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("STEPWELL_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("STEPWELL_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("STEPWELL_EMAIL_USE_TLS", "0") == "1"
EMAIL_TIMEOUT = float(os.environ.get("STEPWELL_EMAIL_TIMEOUT", "10"))  # Django's default: none
DEFAULT_FROM_EMAIL = os.environ.get("STEPWELL_EMAIL_FROM", "stepwell@localhost")
# Domain of the Message-ID derived from each message key (default: DEFAULT_FROM_EMAIL's).
STEPWELL_EMAIL_MESSAGE_ID_DOMAIN = os.environ.get("STEPWELL_EMAIL_MESSAGE_ID_DOMAIN", "")
# A message claimed longer ago than this (seconds) belongs to a worker that died: retaken.
STEPWELL_OUTBOX_LEASE_SECONDS = int(os.environ.get("STEPWELL_OUTBOX_LEASE_SECONDS", "300"))
STEPWELL_OUTBOX_DIR = Path(os.environ.get("STEPWELL_OUTBOX_DIR", str(VAR_DIR / "outbox")))
# Base address written into notifications ("open Stepwell at …/safety/tasks/12/").
STEPWELL_BASE_URL = os.environ.get("STEPWELL_BASE_URL", "http://127.0.0.1:8000")

# Scheduled jobs (reminders, check-in prompts, overdue referrals) are django-tasks tasks
# kept in the database (django-tasks-db): no extra server; `stepwell worker` runs them.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# API bearer tokens: lifetime in hours.
STEPWELL_TOKEN_HOURS = int(os.environ.get("STEPWELL_TOKEN_HOURS", "12"))
# Break-the-glass: how long an emergency grant lasts, in hours.
STEPWELL_BREAK_GLASS_HOURS = 3

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 8 * 60 * 60  # one working day
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

if PRODUCTION:
    SECURE_SSL_REDIRECT = os.environ.get("STEPWELL_SSL_REDIRECT", "1") == "1"
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"

LANGUAGE_CODE = "en"
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("STEPWELL_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"  # filled by collectstatic in production
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise expects it to exist
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

NINJA_PAGINATION_PER_PAGE = 50

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"stepwell": {"level": "INFO"}},
}
