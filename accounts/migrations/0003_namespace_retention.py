from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_account_manager"),
    ]

    operations = [
        migrations.AddField(
            model_name="namespace",
            name="retention_days",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Days ended executions are kept (empty: MILLRACE_RETENTION_DAYS; 0: forever).",
                null=True,
            ),
        ),
    ]
