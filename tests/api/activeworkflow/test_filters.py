"""ActiveWorkflow's `after` filter (api/activeworkflow/filters.py) and the `limit` the view keeps."""

from datetime import timedelta

from django.utils import timezone

from executions.models import Message
from tests.api.activeworkflow.conftest import assert_error


def test_after_then_limit_newest_first(client_for, viewer, pair):
    source, _ = pair
    client = client_for(viewer)
    messages = list(Message.objects.filter(agent=source).order_by("id"))
    now = timezone.now()
    for age, message in enumerate(reversed(messages)):
        Message.objects.filter(pk=message.pk).update(created_at=now - timedelta(hours=age))
    since = (now - timedelta(minutes=90)).replace(tzinfo=None).isoformat()  # naive: UTC
    listed = client.get(f"/api/v1/agents/{source.pk}/messages", {"after": since}).json()
    assert len(listed) == 2
    assert len(client.get(f"/api/v1/agents/{source.pk}/messages", {"after": since, "limit": 1}).json()) == 1
    offset = (now - timedelta(minutes=90)).isoformat()  # +00:00 arrives as a space unless encoded
    assert len(client.get(f"/api/v1/agents/{source.pk}/messages?after={offset}").json()) == 2


def test_a_bad_after_is_a_400_in_the_dialects_shape(client_for, viewer, pair):
    source, _ = pair
    response = client_for(viewer).get(f"/api/v1/agents/{source.pk}/messages", {"after": "yesterday"})
    assert_error(response, 400)
    assert response.json() == {"error": "'after' must be an ISO 8601 datetime."}
