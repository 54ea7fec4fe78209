"""Reads of flows and triggers with SQL of their own: the same instances the ORM builds."""

import pytest

from flows.models import Trigger
from flows.selectors import webhook_trigger_get
from tests.factories import TriggerFactory

pytestmark = pytest.mark.django_db


def concrete(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_a_webhook_trigger_is_read_with_its_flow_and_namespace_in_one_query(django_assert_num_queries):
    made = TriggerFactory(type=Trigger.Type.WEBHOOK, key="hook-key-1", inputs={"n": [1, {"a": None}]})
    with django_assert_num_queries(1):
        read = webhook_trigger_get(key="hook-key-1")
        flow, namespace = read.flow, read.flow.namespace
    expected = Trigger.objects.select_related("flow__namespace").get(pk=made.pk)
    assert concrete(read) == concrete(expected)
    assert concrete(flow) == concrete(expected.flow)
    assert concrete(namespace) == concrete(expected.flow.namespace)
    assert read.inputs == {"n": [1, {"a": None}]} and read.enabled is True


@pytest.mark.parametrize(
    "key", ["", "no-such-key", "hook-key-off", "schedule-key", "' OR '1'='1", "k" * 10_000, "hook-key-off\x00"]
)
def test_no_trigger_for_an_unknown_empty_disabled_or_other_kind_of_key(key):
    TriggerFactory(type=Trigger.Type.WEBHOOK, key="hook-key-off", enabled=False)
    TriggerFactory(type=Trigger.Type.SCHEDULE, key="schedule-key", cron="* * * * *")
    assert webhook_trigger_get(key=key) is None
