"""How Millrace's processes talk: the channel layer, django-q2's cluster, the caches, logging."""

import os

from config.settings.base import MILLRACE_TASK_TIMEOUT, REDIS_URL, VAR_DIR
from config.startup import SettingError, env_bool, env_int

# --- Channels and django-q2 ---------------------------------------------------------------

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # No socket timeout: a consumer waiting for the next message blocks on Redis for its
            # own 5 s; redis-py's default 5 s socket timeout would otherwise kill idle WebSockets.
            # redis-py caps a pool at 100 connections in use and refuses the next: hundreds of
            # sockets joining or leaving their groups at once need more.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": None, "max_connections": 2000}],
                "capacity": 1000,
                "expiry": 30,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

Q_CLUSTER = {
    "name": os.environ.get("MILLRACE_QUEUE_NAME", "millrace"),
    "workers": env_int("MILLRACE_WORKERS", 2),
    "recycle": 5000,  # a recycled worker loses its warm caches (compiled flows, plugin imports)
    "timeout": MILLRACE_TASK_TIMEOUT,
    "retry": MILLRACE_TASK_TIMEOUT + 60,
    "max_attempts": 1,
    "ack_failures": True,
    "save_limit": -1,
    "catch_up": False,
    "label": "Task queue",
}
if REDIS_URL:
    # Up to `bulk` waiting tasks per Redis round trip (core/broker.py).
    Q_CLUSTER.update({"redis": REDIS_URL, "broker_class": "core.broker.BulkRedis", "bulk": 50})
else:
    # The ORM broker keeps its clusters' heartbeats (`Stat`) in a Django cache: a file cache
    # lets the console, another process than the worker, see them. A written task rings the
    # pusher (core/broker.py): `poll` is only how long it waits for a ring before it reads again.
    Q_CLUSTER.update(
        {"orm": "default", "broker_class": "core.broker.BellORM", "poll": 0.5, "bulk": 10, "cache": "django_q"}
    )

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "django_q": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "queue-stats"),
    },
}

MILLRACE_LOG_FORMAT = os.environ.get("MILLRACE_LOG_FORMAT", "text").strip().lower() or "text"
if MILLRACE_LOG_FORMAT not in ("text", "json"):
    raise SettingError(f"MILLRACE_LOG_FORMAT must be 'text' or 'json', not {MILLRACE_LOG_FORMAT!r}.")
#: Adds `namespace` and `flow` labels to the engine's metrics: one series per flow, so only where
#: the number of flows is small enough for the Prometheus server.
MILLRACE_METRICS_DETAILED = env_bool("MILLRACE_METRICS_DETAILED", False)

LOGGING_CONFIG = "core.logformat.configure"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "millrace": {"()": f"core.logformat.{'JsonFormatter' if MILLRACE_LOG_FORMAT == 'json' else 'TextFormatter'}"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "millrace"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # unhandled exceptions with their traceback; its per-response lines are the request lines'
        # (`api.middleware.RequestMetricsMiddleware`)
        "django.request": {"level": "ERROR"},
        # every request is a line of `millrace.requests`; uvicorn's access line would repeat it
        "uvicorn.access": {"level": "WARNING"},
        # Python's warnings, in the log's format and once (Django's own handler shows them too with DEBUG)
        "py.warnings": {"handlers": ["console"], "propagate": False},
        # django-axes' start-up banner would be the first line of every command's output
        "axes.apps": {"level": "WARNING"},
        # django-q2 logs every enqueue and every task at INFO: thousands of lines a second under load
        "django-q": {"level": os.environ.get("MILLRACE_QUEUE_LOG_LEVEL", "WARNING")},
    },
}
