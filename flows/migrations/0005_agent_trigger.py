import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("flows", "0004_schedule_recovery"),
    ]

    operations = [
        migrations.AddField(
            model_name="trigger",
            name="source_agent",
            field=models.ForeignKey(
                blank=True,
                help_text="Agent triggers: the agent whose messages start the flow.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="flow_triggers",
                to="flows.agent",
            ),
        ),
        migrations.AlterField(
            model_name="trigger",
            name="type",
            field=models.CharField(
                choices=[("webhook", "Webhook"), ("schedule", "Schedule"), ("flow", "Flow"), ("agent", "Agent")],
                max_length=16,
            ),
        ),
    ]
