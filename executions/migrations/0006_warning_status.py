"""WARNING, the end of an execution whose `allowFailure` step failed."""

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
    ]
