import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("executions", "0007_concurrency"),
    ]

    operations = [
        migrations.AddField(
            model_name="execution",
            name="original",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="replays",
                to="executions.execution",
            ),
        ),
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                condition=models.Q(("original__isnull", False)), fields=["original"], name="execution_original_set"
            ),
        ),
    ]
