from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("flows", "0003_lean_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="trigger",
            name="recover_missed",
            field=models.CharField(
                choices=[("ALL", "All missed ticks"), ("LAST", "The last missed tick"), ("NONE", "None")],
                default="LAST",
                help_text="Schedule: which ticks missed while no worker ran are started.",
                max_length=4,
            ),
        ),
    ]
