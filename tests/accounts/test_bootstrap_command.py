"""`manage.py bootstrap --demo`, as `make run` calls it: the first admin and every example flow."""

from io import StringIO
from pathlib import Path

from django.core.management import call_command

from flows.models import Flow

EXAMPLES = Path(__file__).resolve().parents[2] / "flows" / "examples"


def test_bootstrap_demo_loads_every_top_level_example_and_is_idempotent(db, monkeypatch):
    monkeypatch.setenv("MILLRACE_ADMIN_PASSWORD", "first-admin-password")
    out = StringIO()
    call_command("bootstrap", "--demo", stdout=out)
    expected = sorted(path.stem for path in EXAMPLES.glob("*.yaml"))
    assert expected and sorted(Flow.objects.filter(namespace__name="demo").values_list("name", flat=True)) == expected
    assert "password: first-admin-password" in out.getvalue()
    call_command("bootstrap", "--demo", stdout=StringIO())
    assert Flow.objects.filter(namespace__name="demo").count() == len(expected)
