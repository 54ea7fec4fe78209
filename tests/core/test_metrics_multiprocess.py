"""prometheus-client's multiprocess mode with real processes: two processes run flows, a third
answers the scrape with the sum of both (PROMETHEUS_MULTIPROC_DIR shared by all three)."""

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
FLOW = """name: two-echoes
tasks:
  - name: first
    type: util.echo
    properties: {value: one}
  - name: second
    type: util.echo
    properties: {value: two}
"""
SETUP = 'from accounts.models import Account; Account.objects.create_user(username="ops", password="x", role="admin")'
SCRAPE = "import sys; from core.metrics import exposition; sys.stdout.write(exposition().decode())"


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done


def test_counts_of_every_process_are_summed_at_scrape_time(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            "MILLRACE_VAR_DIR": str(tmp_path / "var"),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        }
    )
    manage(env, "migrate", "-v0")
    manage(env, "shell", "-c", SETUP)
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)

    manage(env, "run_flow", str(flow))
    manage(env, "run_flow", str(flow))
    text = manage(env, "shell", "--no-imports", "-c", SCRAPE).stdout

    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples[("millrace_executions_total", frozenset({"status": "SUCCESS", "origin": "cli"}.items()))] == 2
    assert samples[("millrace_task_runs_total", frozenset({"plugin": "util.echo", "status": "SUCCESS"}.items()))] == 4
    assert samples[("millrace_execution_duration_seconds_count", frozenset())] == 2
    assert samples[("millrace_task_run_duration_seconds_count", frozenset({"plugin": "util.echo"}.items()))] == 4
    assert samples[("millrace_executions", frozenset({"status": "SUCCESS"}.items()))] == 2  # from the database
    assert ("millrace_workers", frozenset()) in samples and ("process_cpu_seconds_total", frozenset()) in samples
    assert len({path.name for path in metrics_dir.glob("counter_*.db")}) >= 2  # one file per counting process
