from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_api_token_verbose_name'),
        ('executions', '0009_message_depth'),
        ('flows', '0006_flow_format_kestra'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='execution',
            name='executions__namespa_d887f8_idx',
        ),
        migrations.AddIndex(
            model_name='execution',
            index=models.Index(fields=['created_at', 'id'], name='execution_created'),
        ),
        migrations.AddIndex(
            model_name='execution',
            index=models.Index(fields=['namespace', 'created_at', 'id'], name='execution_namespace_created'),
        ),
    ]
