from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("executions", "0008_execution_original"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="depth",
            field=models.PositiveSmallIntegerField(
                default=0,
                help_text="Flow starts behind this message (FlowAgent, agent triggers): loops stop at a limit.",
            ),
        ),
    ]
