"""`waiting_for_slot`: an execution QUEUED by its flow's concurrency limit, indexed where set."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("executions", "0006_warning_status"),
    ]

    operations = [
        migrations.AddField(
            model_name="execution",
            name="waiting_for_slot",
            field=models.BooleanField(default=False),
        ),
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                condition=models.Q(("waiting_for_slot", True)),
                fields=["created_at"],
                name="execution_waiting_for_slot",
            ),
        ),
    ]
