"""What the database settings become for each way of running: the embedded default, PostgreSQL
with the connection pool, without it, and without prepared statements."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_KEYS = {"SECRET_KEY": "x", "MILLRACE_CREDENTIALS_KEY": "K7gNU3sdo-OL0wNhqoVWhr3g6s1xYv72ol_pe_Unols="}
PRINT = (
    "import json, django; from django.conf import settings; django.setup(); "
    "d = settings.DATABASES['default']; "
    "print(json.dumps({'engine': d['ENGINE'], 'max_age': d.get('CONN_MAX_AGE'), 'checks': d.get('CONN_HEALTH_CHECKS'), "
    "'pool': d.get('OPTIONS', {}).get('pool'), 'binding': d.get('OPTIONS', {}).get('server_side_binding'), "
    "'prepare': d.get('OPTIONS', {}).get('prepare_threshold')}))"
)


def database_settings(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "MILLRACE_DB_"))}
    done = subprocess.run(
        [sys.executable, "-c", PRINT],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **PRODUCTION_KEYS, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


URL = "postgres://millrace@db.invalid:5432/millrace"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, {"engine": "core.sqlite", "pool": None, "binding": None, "prepare": None}),
        (
            {"DATABASE_URL": URL},
            {
                "engine": "core.postgresql",
                "max_age": 0,
                "checks": True,
                "pool": {"min_size": 1, "max_size": 10, "timeout": 10},
                "binding": True,
                "prepare": 5,
            },
        ),
        (
            {"DATABASE_URL": URL, "MILLRACE_DB_POOL_SIZE": "0"},
            {
                "engine": "django.db.backends.postgresql",
                "max_age": 600,
                "checks": True,
                "pool": None,
                "binding": True,
                "prepare": 5,
            },
        ),
        ({"DATABASE_URL": URL, "MILLRACE_DB_PREPARE_THRESHOLD": "0"}, {"prepare": None, "binding": True}),
    ],
    ids=["embedded", "pooled", "persistent", "unprepared"],
)
def test_database_settings_follow_the_environment(env, expected):
    found = database_settings(**env)
    assert {key: found[key] for key in expected} == expected
