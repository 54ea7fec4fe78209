"""What the settings become from the environment alone (each case a fresh process with a clean
environment), and how a missing required setting stops the start."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = "postgres://millrace@db.invalid:5432/millrace"
CREDENTIALS_KEY = "K7gNU3sdo-OL0wNhqoVWhr3g6s1xYv72ol_pe_Unols="
PRODUCTION = {"DATABASE_URL": POSTGRES, "SECRET_KEY": "k" * 50, "MILLRACE_CREDENTIALS_KEY": CREDENTIALS_KEY}
PRINT = (
    "import json, django; from django.conf import settings as s; django.setup(); "
    "print(json.dumps({name: getattr(s, name) for name in ("
    "'DEBUG', 'ALLOWED_HOSTS', 'CSRF_TRUSTED_ORIGINS', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', "
    "'SECURE_HSTS_SECONDS', 'SECURE_SSL_REDIRECT', 'SECURE_PROXY_SSL_HEADER', 'SECRET_KEY', 'MILLRACE_SERVERS')}))"
)


def clean_env(tmp_path: Path, **env: str) -> dict[str, str]:
    """Only what a new user's shell has, plus `env`; var/ in a temporary directory."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    return {**base, "MILLRACE_VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "config.settings", **env}


def settings_for(tmp_path: Path, **env: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PRINT], cwd=ROOT, env=clean_env(tmp_path, **env), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(tmp_path: Path, *command: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *command], cwd=ROOT, env=clean_env(tmp_path, **env), capture_output=True, text=True, timeout=60
    )


def test_debug_is_off_by_default_and_the_embedded_default_keeps_a_local_key(tmp_path):
    found = settings_for(tmp_path)
    assert found["DEBUG"] is False
    assert found["SECRET_KEY"] == (tmp_path / "var" / "secret_key").read_text().strip()
    assert settings_for(tmp_path)["SECRET_KEY"] == found["SECRET_KEY"]  # kept, not regenerated
    assert found["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]", "localhost"]
    assert found["CSRF_TRUSTED_ORIGINS"] == ["http://localhost:8000"]


def test_serve_starts_two_server_processes_on_sqlite_and_one_on_postgresql(tmp_path):
    assert settings_for(tmp_path)["MILLRACE_SERVERS"] == 2
    assert settings_for(tmp_path, **PRODUCTION)["MILLRACE_SERVERS"] == 1
    assert settings_for(tmp_path, **PRODUCTION, MILLRACE_SERVERS="3")["MILLRACE_SERVERS"] == 3


def test_millrace_debug_turns_debug_on(tmp_path):
    assert settings_for(tmp_path, MILLRACE_DEBUG="1")["DEBUG"] is True
    assert settings_for(tmp_path, DEBUG="true")["DEBUG"] is False  # a generic DEBUG in the shell is not ours


def test_production_hosts_origins_and_cookies_follow_the_public_url(tmp_path):
    found = settings_for(tmp_path, **PRODUCTION, MILLRACE_PUBLIC_URL="https://Millrace.example.com/")
    assert found["DEBUG"] is False
    assert "millrace.example.com" in found["ALLOWED_HOSTS"]
    assert found["CSRF_TRUSTED_ORIGINS"] == ["https://millrace.example.com"]
    assert found["SESSION_COOKIE_SECURE"] is True and found["CSRF_COOKIE_SECURE"] is True


def test_cookies_are_not_secure_on_a_plain_http_public_url_unless_set(tmp_path):
    plain = {**PRODUCTION, "MILLRACE_PUBLIC_URL": "http://10.0.0.5:8000"}
    found = settings_for(tmp_path, **plain)
    assert found["SESSION_COOKIE_SECURE"] is False and found["CSRF_COOKIE_SECURE"] is False
    assert found["ALLOWED_HOSTS"][-1] == "10.0.0.5"
    found = settings_for(tmp_path, **plain, SESSION_COOKIE_SECURE="true", CSRF_COOKIE_SECURE="1")
    assert found["SESSION_COOKIE_SECURE"] is True and found["CSRF_COOKIE_SECURE"] is True
    found = settings_for(tmp_path, **{**plain, "MILLRACE_PUBLIC_URL": "https://m.example"}, SESSION_COOKIE_SECURE="0")
    assert found["SESSION_COOKIE_SECURE"] is False and found["CSRF_COOKIE_SECURE"] is True


def test_tls_settings_come_from_the_environment(tmp_path):
    assert settings_for(tmp_path)["SECURE_HSTS_SECONDS"] == 0
    found = settings_for(
        tmp_path, SECURE_HSTS_SECONDS="31536000", SECURE_SSL_REDIRECT="on", SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto"
    )
    assert found["SECURE_HSTS_SECONDS"] == 31536000 and found["SECURE_SSL_REDIRECT"] is True
    assert found["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def assert_one_clear_line(done: subprocess.CompletedProcess, name: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "command",
    [["manage.py", "check"], ["manage.py", "migrate", "--plan"], ["-c", "import config.asgi"]],
    ids=["check", "migrate", "asgi"],
)
def test_missing_secret_key_in_production_stops_with_one_line(tmp_path, command):
    done = run(tmp_path, *command, DATABASE_URL=POSTGRES, REDIS_URL="redis://127.0.0.1:6379/0")
    assert_one_clear_line(done, "SECRET_KEY")
    assert not (tmp_path / "var" / "secret_key").exists()


def test_missing_credentials_key_in_production_stops_with_one_line(tmp_path):
    done = run(tmp_path, "manage.py", "check", DATABASE_URL=POSTGRES, SECRET_KEY="k" * 50)
    assert_one_clear_line(done, "MILLRACE_CREDENTIALS_KEY")


def test_production_with_its_keys_starts(tmp_path):
    done = run(tmp_path, "manage.py", "check", **PRODUCTION)
    assert done.returncode == 0, done.stderr


def test_uvicorn_stops_with_one_line_too(tmp_path):
    done = run(tmp_path, "-m", "uvicorn", "config.asgi:application", "--port", "0", DATABASE_URL=POSTGRES)
    assert done.returncode == 2, done.stderr
    assert "SECRET_KEY must be set" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"MILLRACE_PUBLIC_URL": "http://[::1:8790/"}, "MILLRACE_PUBLIC_URL"),
        ({"PORT": "eighty"}, "PORT"),
        ({"MILLRACE_HTTP_TIMEOUT": "soon"}, "MILLRACE_HTTP_TIMEOUT"),
        ({"SECURE_SSL_REDIRECT": "maybe"}, "SECURE_SSL_REDIRECT"),
        ({"MILLRACE_ROOT_DIALECT": "huginn"}, "MILLRACE_ROOT_DIALECT"),
        ({"MILLRACE_STORAGE_URL": "ftp://files/x"}, "MILLRACE_STORAGE_URL"),
        ({"MILLRACE_SCRIPT_TIMEOUT_SECONDS": "600"}, "MILLRACE_SCRIPT_TIMEOUT_SECONDS"),
        ({"MILLRACE_TASK_TIMEOUT": "30"}, "MILLRACE_SCRIPT_TIMEOUT_SECONDS"),
        ({"MILLRACE_SERVERS": "0"}, "MILLRACE_SERVERS"),
        ({"MILLRACE_SERVERS": "two"}, "MILLRACE_SERVERS"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_an_invalid_setting_stops_with_one_line_naming_it(tmp_path, env, name):
    assert_one_clear_line(run(tmp_path, "manage.py", "check", **env), name)
