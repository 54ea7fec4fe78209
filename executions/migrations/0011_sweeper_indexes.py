"""Indexes for the sweeper's questions, which ran once a second over every execution on SQLite
(whose statistics cannot tell a rare status from a common one): executions live and untouched
since a cutoff, by (status, updated_at); task runs queued and untouched since, by a partial
index of the queued ones; flows with executions waiting for a concurrency slot, by a partial
index of those executions by flow, then age."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('executions', '0010_list_indexes'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='execution',
            index=models.Index(fields=['status', 'updated_at'], name='execution_status_updated'),
        ),
        migrations.AddIndex(
            model_name='taskrun',
            index=models.Index(condition=models.Q(('status', 'QUEUED')), fields=['updated_at'], name='taskrun_queued'),
        ),
        migrations.RemoveIndex(
            model_name='execution',
            name='execution_waiting_for_slot',
        ),
        migrations.AddIndex(
            model_name='execution',
            index=models.Index(condition=models.Q(('waiting_for_slot', True)), fields=['flow', 'created_at'], name='execution_waiting_for_slot'),
        ),
    ]
