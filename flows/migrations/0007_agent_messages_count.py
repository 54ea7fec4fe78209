"""`Agent.messages_count`, a counter cache of the agent's stored messages, filled from them."""

from django.db import migrations, models
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce


def fill_messages_count(apps, schema_editor):
    """One UPDATE: each agent's counter becomes the number of its stored messages (expired ones
    the purge has not removed yet included, as the runtime keeps it)."""
    Agent = apps.get_model("flows", "Agent")
    Message = apps.get_model("executions", "Message")
    counts = Message.objects.filter(agent=OuterRef("pk")).order_by().values("agent").annotate(n=Count("id")).values("n")
    Agent.objects.update(messages_count=Coalesce(Subquery(counts), 0))


class Migration(migrations.Migration):

    dependencies = [
        ("flows", "0006_flow_format_kestra"),
        ("executions", "0009_message_depth"),
    ]

    operations = [
        migrations.AddField(
            model_name="agent",
            name="messages_count",
            field=models.BigIntegerField(
                default=0,
                editable=False,
                help_text="Messages stored, expired ones not purged yet included: a counter cache (Huginn's"
                " `events_count`) that emission and the purge move under the agent's row lock.",
            ),
        ),
        migrations.RunPython(fill_messages_count, migrations.RunPython.noop, elidable=True),
    ]
