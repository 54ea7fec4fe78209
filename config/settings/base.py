"""Millrace's settings from the environment: Django, the databases, security, the API and
Millrace's own limits (the processes' wiring is in `runtime`)."""

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

from config.startup import SettingError, env_bool, env_float, env_int, env_list

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = Path(os.environ.get("MILLRACE_VAR_DIR", BASE_DIR / "var"))


DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
# Django's technical pages list every route and setting: development only, never by default.
DEBUG = env_bool("MILLRACE_DEBUG", False)
#: The embedded default (and development) keeps its keys in var/: SECRET_KEY is generated there
#: and the credentials key derived from it. In production (DATABASE_URL set) several processes
#: on several machines need the same keys, so both must be set.
MILLRACE_LOCAL_KEYS = DEBUG or not DATABASE_URL

PORT = env_int("PORT", 8000)
#: Server processes `manage.py serve` starts (uvicorn's `--workers`). On SQLite the server is the
#: busiest process of the machine and one process is bound by its GIL: two served a fifth more
#: webhooks (bench/README.md). On PostgreSQL, whose own processes share the cores, one did more.
MILLRACE_SERVERS = env_int("MILLRACE_SERVERS", 1 if DATABASE_URL else 2)
if MILLRACE_SERVERS < 1:
    raise SettingError(f"MILLRACE_SERVERS must be 1 or more, not {MILLRACE_SERVERS}.")
MILLRACE_PUBLIC_URL = os.environ.get("MILLRACE_PUBLIC_URL", f"http://localhost:{PORT}").rstrip("/")


def _public_url_parts() -> tuple[str, str, str]:
    """(scheme, host as ALLOWED_HOSTS spells it, origin) of MILLRACE_PUBLIC_URL."""
    try:
        parts = urlsplit(MILLRACE_PUBLIC_URL)
        scheme, host, _ = parts.scheme, parts.hostname, parts.port  # .port raises on a port that is not a number
    except ValueError:
        scheme, host = "", None
    if scheme not in ("http", "https") or not host:
        raise SettingError(
            f"MILLRACE_PUBLIC_URL must be an http(s) URL such as https://millrace.example.com, "
            f"not {MILLRACE_PUBLIC_URL!r}."
        )
    origin = f"{scheme}://{parts.netloc.rpartition('@')[2].lower()}"
    return scheme, f"[{host}]" if ":" in host else host, origin


_PUBLIC_SCHEME, _PUBLIC_HOST, _PUBLIC_ORIGIN = _public_url_parts()


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY", "")
    if key:
        return key
    if not MILLRACE_LOCAL_KEYS:
        raise SettingError(
            "SECRET_KEY must be set when DATABASE_URL is set (production); generate one with "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", f"localhost,127.0.0.1,[::1],{_PUBLIC_HOST}")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", _PUBLIC_ORIGIN)
# Cookies are sent over https only when Millrace is served over https, unless set explicitly.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", _PUBLIC_SCHEME == "https")
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", _PUBLIC_SCHEME == "https")

# Behind TLS (README, "Production set-up"): HSTS and the redirect to https stay off unless set;
# SECURE_PROXY_SSL_HEADER names the header a TLS-terminating proxy sets to `https`.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Probes from inside the network speak plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^(workflowdev/)?(healthz|readyz|metrics)$"]
_PROXY_SSL_HEADER = os.environ.get("SECURE_PROXY_SSL_HEADER", "").strip()
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https") if _PROXY_SSL_HEADER else None
)
#: Content-Security-Policy of every response that has none (core.security): the console, the API
#: docs (the sidecar's Swagger UI and Redoc, served locally) and the landing page load scripts only
#: from this origin; inline styles stay allowed (style attributes of the console, Redoc's styles).
MILLRACE_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

INSTALLED_APPS = [
    "console.apps.MillraceAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "channels",
    "axes",
    "core",
    "accounts",
    "flows",
    "executions",
    "agents",
    "connectors",
    "vault",
    "files",
    "console",
    "api",
]

# The response-header middleware sits outside DialectErrorMiddleware, so the error responses it
# renders carry the same headers as every other response.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.security.ContentSecurityPolicyMiddleware",
    "api.middleware.DialectErrorMiddleware",
    "console.static_files.AsgiWhiteNoiseMiddleware",  # WhiteNoise, without a warning per file under ASGI
    "api.middleware.RequestMetricsMiddleware",
    "api.middleware.BodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "api.login_throttle.LoginLockoutMiddleware",  # 429 for a login that axes refused (see below)
]

ROOT_URLCONF = "config.urls"
APPEND_SLASH = False

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

WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"

# A process's database connections come from a pool of at most MILLRACE_DB_POOL_SIZE: under ASGI
# every request runs on a thread of its own, and a persistent connection per thread would pile
# up until PostgreSQL refuses clients. A connection is checked when borrowed (a restarted server
# costs no failed request; see core/postgresql). 0 turns the pool off for persistent connections
# per thread.
MILLRACE_DB_POOL_SIZE = env_int("MILLRACE_DB_POOL_SIZE", 10)
# Parameters bound on the server and statements prepared once a connection has run them
# MILLRACE_DB_PREPARE_THRESHOLD times (psycopg's default, 5; Django turns both off for poolers
# such as PgBouncer in transaction mode, where 0 turns preparing off): the engine's few
# statements, run for every step, skip parsing and planning, which was most of PostgreSQL's
# work per execution.
MILLRACE_DB_PREPARE_THRESHOLD = env_int("MILLRACE_DB_PREPARE_THRESHOLD", 5)
if DATABASE_URL:
    if MILLRACE_DB_POOL_SIZE:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_health_checks=True, engine="core.postgresql")}
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": MILLRACE_DB_POOL_SIZE,
            "timeout": env_int("MILLRACE_DB_POOL_TIMEOUT", 10),
        }
    else:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)}
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": MILLRACE_DB_PREPARE_THRESHOLD or None}
    )
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "core.sqlite",
            "NAME": os.environ.get("MILLRACE_SQLITE_PATH", str(VAR_DIR / "db.sqlite3")),
            # kept open by each thread: request threads are pooled (config/asgi.py), and opening
            # one (its functions registered, its PRAGMAs run) cost more than a request's queries
            "CONN_MAX_AGE": None,
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # what Django gives django.db.backends.sqlite3 by itself; said here for this backend,
            # which pytest-django would otherwise name after the file
            "TEST": {"NAME": ":memory:"},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.Account"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing root
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").exists() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "admin:login"
# Messages stay server-side, out of cookies (a new API token is shown on its own page, never in one).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# --- Millrace -------------------------------------------------------------------------------

MILLRACE_ROOT_DIALECT = os.environ.get("MILLRACE_ROOT_DIALECT", "flowrunner")
if MILLRACE_ROOT_DIALECT not in {"flowrunner", "workflowdev"}:
    raise SettingError(f"MILLRACE_ROOT_DIALECT must be 'flowrunner' or 'workflowdev', not {MILLRACE_ROOT_DIALECT!r}.")
MILLRACE_AUTH_REQUIRED = env_bool("MILLRACE_AUTH_REQUIRED", True)
MILLRACE_HTTP_ALLOWED_NETWORKS = env_list("MILLRACE_HTTP_ALLOWED_NETWORKS")
MILLRACE_MAX_BODY_BYTES = env_int("MILLRACE_MAX_BODY_BYTES", 10 * 1024 * 1024)
# lists count their matches exactly up to this many; beyond, PostgreSQL's estimate (core/counting.py)
MILLRACE_LIST_EXACT_COUNT = env_int("MILLRACE_LIST_EXACT_COUNT", 10_000)
MILLRACE_CONNECTOR_API_KEY = os.environ.get("MILLRACE_CONNECTOR_API_KEY", "")
MILLRACE_CONNECTOR_WAIT_SECONDS = env_int("MILLRACE_CONNECTOR_WAIT_SECONDS", 30)
MILLRACE_CONNECTOR_ACCOUNT = os.environ.get("MILLRACE_CONNECTOR_ACCOUNT", "")
MILLRACE_CREDENTIALS_KEY = os.environ.get("MILLRACE_CREDENTIALS_KEY", "")
if not MILLRACE_CREDENTIALS_KEY and not MILLRACE_LOCAL_KEYS:
    raise SettingError(
        "MILLRACE_CREDENTIALS_KEY must be set when DATABASE_URL is set (production); generate one with "
        "python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'"
    )
MILLRACE_TOKEN_LIFETIME = timedelta(seconds=env_int("MILLRACE_TOKEN_LIFETIME_SECONDS", 3600))
MILLRACE_TOKEN_REFRESH_LIFETIME = timedelta(seconds=env_int("MILLRACE_TOKEN_REFRESH_LIFETIME_SECONDS", 86400))
MILLRACE_HTTP_TIMEOUT = env_float("MILLRACE_HTTP_TIMEOUT", 30.0)
MILLRACE_HTTP_MAX_RESPONSE_BYTES = env_int("MILLRACE_HTTP_MAX_RESPONSE_BYTES", 10 * 1024 * 1024)
MILLRACE_YAML_MAX_BYTES = env_int("MILLRACE_YAML_MAX_BYTES", 1024 * 1024)
MILLRACE_STEP_LIMIT = env_int("MILLRACE_STEP_LIMIT", 10000)
MILLRACE_SUBFLOW_MAX_DEPTH = env_int("MILLRACE_SUBFLOW_MAX_DEPTH", 10)
MILLRACE_KV_MAX_VALUE_BYTES = env_int("MILLRACE_KV_MAX_VALUE_BYTES", 1024 * 1024)
MILLRACE_WEBHOOK_WAIT_SECONDS = env_int("MILLRACE_WEBHOOK_WAIT_SECONDS", 30)
MILLRACE_LEASE_SECONDS = env_int("MILLRACE_LEASE_SECONDS", 60)
#: QUEUED work older than this is queued again: its queue message may be lost (broker restart).
MILLRACE_REDISPATCH_SECONDS = env_int("MILLRACE_REDISPATCH_SECONDS", 60)
#: Log lines each agent keeps (the newest), as Huginn's `AGENT_LOG_LENGTH`.
MILLRACE_AGENT_LOG_KEEP = env_int("MILLRACE_AGENT_LOG_KEEP", 200)
#: Ended executions (task runs, events) older than this many days are purged by the sweeper;
#: a namespace's `retention_days` overrides it; 0 keeps them forever.
MILLRACE_RETENTION_DAYS = env_int("MILLRACE_RETENTION_DAYS", 30)
#: Audit entries older than this many days are purged by the sweeper; 0 keeps them forever.
MILLRACE_AUDIT_RETENTION_DAYS = env_int("MILLRACE_AUDIT_RETENTION_DAYS", 365)
#: An open WebSocket checks its token again this often and closes (4401) once it is revoked.
MILLRACE_WS_RECHECK_SECONDS = float(os.environ.get("MILLRACE_WS_RECHECK_SECONDS", "2"))

# --- Files, scripts and mail (issue: scripts, files and integrations) ----------------------
#: Where stored files live: a local directory, or `s3://bucket/prefix` for any S3-compatible
#: store (credentials and endpoint from the usual AWS_* variables, or MILLRACE_STORAGE_S3_ENDPOINT_URL).
MILLRACE_STORAGE_DIR = Path(os.environ.get("MILLRACE_STORAGE_DIR", VAR_DIR / "storage"))
MILLRACE_STORAGE_URL = os.environ.get("MILLRACE_STORAGE_URL", "")
MILLRACE_MAX_FILE_BYTES = env_int("MILLRACE_MAX_FILE_BYTES", 100 * 1024 * 1024)
if MILLRACE_STORAGE_URL:
    _bucket = urlsplit(MILLRACE_STORAGE_URL)
    if _bucket.scheme != "s3" or not _bucket.netloc:
        raise SettingError(f"MILLRACE_STORAGE_URL must look like s3://bucket/prefix, not {MILLRACE_STORAGE_URL!r}.")
    STORAGES["millrace"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _bucket.netloc,
            "location": _bucket.path.strip("/"),
            "endpoint_url": os.environ.get("MILLRACE_STORAGE_S3_ENDPOINT_URL") or None,
            # MinIO and other self-hosted stores often need "path" (bucket in the path, not the host)
            "addressing_style": os.environ.get("MILLRACE_STORAGE_S3_ADDRESSING_STYLE") or None,
            "file_overwrite": True,
            "default_acl": None,
            "querystring_auth": True,
        },
    }
else:
    STORAGES["millrace"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MILLRACE_STORAGE_DIR), "allow_overwrite": True, "base_url": None},
    }
#: Script tasks (script.python, script.shell) run as processes of the worker: on by default,
#: turn them off where flow authors are not trusted with the worker's user (docs/scripts.md).
MILLRACE_SCRIPTS_ENABLED = env_bool("MILLRACE_SCRIPTS_ENABLED", True)
#: `namespace`: each script runs in a PID namespace of its own and sees no other process (the
#: worker's environment in /proc included); a worker that cannot create one fails script steps.
#: `process`: without one, for hosts that refuse namespaces (docs/scripts.md says what is lost).
MILLRACE_SCRIPTS_ISOLATION = os.environ.get("MILLRACE_SCRIPTS_ISOLATION", "namespace")
if MILLRACE_SCRIPTS_ISOLATION not in ("namespace", "process"):
    raise SettingError(
        f"MILLRACE_SCRIPTS_ISOLATION must be 'namespace' or 'process', not {MILLRACE_SCRIPTS_ISOLATION!r}."
    )
#: The queue ends a worker's task after this many seconds (django-q2 kills the worker), so a
#: script's own time limit must end it first, cleanly, with its reason.
MILLRACE_TASK_TIMEOUT = env_int("MILLRACE_TASK_TIMEOUT", 600)
MILLRACE_SCRIPT_LIMITS = {
    "cpu_seconds": env_int("MILLRACE_SCRIPT_CPU_SECONDS", 300),
    "memory_bytes": env_int("MILLRACE_SCRIPT_MEMORY_BYTES", 2 * 1024 * 1024 * 1024),
    "file_bytes": env_int("MILLRACE_SCRIPT_FILE_BYTES", 1024 * 1024 * 1024),
    "processes": env_int("MILLRACE_SCRIPT_MAX_PROCESSES", 64),
    "open_files": env_int("MILLRACE_SCRIPT_OPEN_FILES", 256),
    "disk_bytes": env_int("MILLRACE_SCRIPT_DISK_BYTES", 2 * 1024 * 1024 * 1024),
    "seconds": env_int("MILLRACE_SCRIPT_TIMEOUT_SECONDS", MILLRACE_TASK_TIMEOUT - 60),
}
if not 0 < MILLRACE_SCRIPT_LIMITS["seconds"] < MILLRACE_TASK_TIMEOUT:
    raise SettingError(
        "MILLRACE_SCRIPT_TIMEOUT_SECONDS must be above 0 and below MILLRACE_TASK_TIMEOUT "
        f"({MILLRACE_TASK_TIMEOUT}): the queue would kill the worker before the script's limit ends it."
    )
#: The SMTP server mail.send uses when a task names none (smtp://user:password@host:port,
#: smtps:// for SSL, ?tls=STARTTLS): Huginn's EmailAgent sends through the server's own.
MILLRACE_SMTP_URL = os.environ.get("MILLRACE_SMTP_URL", "")

# Request bodies above the cap get a 413 in the dialect's shape (api.middleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = MILLRACE_MAX_BODY_BYTES

# --- Login throttling (django-axes) -------------------------------------------------------
# Failed logins are counted per username (case-folded, unknown names too), whatever the
# address, in the database, so every process shares the count. After
# MILLRACE_LOGIN_FAILURE_LIMIT failures, each within MILLRACE_LOGIN_LOCKOUT_MINUTES of the
# previous, the username is refused (429 with Retry-After, the right password included) until
# that many minutes have passed since the last failure. Refused attempts do not extend the lock.
# `python manage.py axes_reset_username <name>` lifts a lock early.

MILLRACE_LOGIN_FAILURE_LIMIT = env_int("MILLRACE_LOGIN_FAILURE_LIMIT", 10)
MILLRACE_LOGIN_LOCKOUT_MINUTES = env_int("MILLRACE_LOGIN_LOCKOUT_MINUTES", 15)
AUTHENTICATION_BACKENDS = [
    "accounts.throttling.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = MILLRACE_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=MILLRACE_LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_USERNAME_CALLABLE = "accounts.throttling.login_key"
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_DISABLE_ACCESS_LOG = True  # successful logins are in the audit log
AXES_ENABLE_ADMIN = False  # the console shows the audit log; its pages are scoped by namespace
# W002: api.login_throttle.LoginLockoutMiddleware stands in for axes.middleware.AxesMiddleware.
# W006: locking by username alone is the point (no other account on the address is locked);
# the key is the username, so rotating user agents or cookies does not reset it.
SILENCED_SYSTEM_CHECKS = ["axes.W002", "axes.W006"]

# --- REST framework, JWT, OpenAPI ---------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "accounts.authentication.SlidingJWTAuthentication",
        "accounts.authentication.OpenAccessAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.IsAccount"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # None by default: a dialect's list views declare api.filtering.DialectFilterBackend, whose
    # 400s take the dialect's error shape (django-filter's own would be DRF's 422 here).
    "DEFAULT_FILTER_BACKENDS": [],
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "iso-8601",
}

SIMPLE_JWT = {
    "AUTH_TOKEN_CLASSES": ("rest_framework_simplejwt.tokens.SlidingToken",),
    "SLIDING_TOKEN_LIFETIME": MILLRACE_TOKEN_LIFETIME,
    "SLIDING_TOKEN_REFRESH_LIFETIME": MILLRACE_TOKEN_REFRESH_LIFETIME,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "account_id",
    "SIGNING_KEY": SECRET_KEY,
    "UPDATE_LAST_LOGIN": False,
    # Login tokens carry a digest of the password hash: any password change or reset revokes them.
    "CHECK_REVOKE_TOKEN": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Millrace",
    "DESCRIPTION": "Workflow automation with five compatible APIs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "accounts.roles.Role.choices",
        "ExecutionStatusEnum": "api.flowrunner.serializers.STATUS_WORDS",  # FlowRunner's, in three components
    },
    # `manage.py spectacular` without --urlconf documents the whole server: one copy of each operation.
    "PREPROCESSING_HOOKS": ["api.schema_hooks.drop_prefixed_copies"],
}
