"""WARNING, the end of an execution whose `allowFailure` step failed; `ending`, the status an
outside end (cancel, timeout) reaches once the flow's `finally` tasks have run."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("executions", "0005_execution_labels"),
    ]

    operations = [
        migrations.AlterField(
            model_name="execution",
            name="status",
            field=models.CharField(
                choices=[
                    ("QUEUED", "Queued"),
                    ("RUNNING", "Running"),
                    ("WAITING", "Waiting"),
                    ("PAUSED", "Paused"),
                    ("SUCCESS", "Success"),
                    ("WARNING", "Warning"),
                    ("FAILED", "Failed"),
                    ("CANCELLED", "Cancelled"),
                    ("TIMED_OUT", "Timed Out"),
                ],
                default="QUEUED",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="execution",
            name="ending",
            field=models.CharField(blank=True, default="", max_length=16),
        ),
    ]
