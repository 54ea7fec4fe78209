"""The OpenAPI schemas a user fetches: valid documents."""

from typing import Any

import pytest
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from api.docs import DOCUMENTED

pytestmark = pytest.mark.django_db


def _schema(slug: str) -> dict[str, Any]:
    response = APIClient().get(f"/api/schema/{slug}/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("slug", sorted(DOCUMENTED))
def test_each_schema_is_a_valid_openapi_document(slug: str) -> None:
    validate(_schema(slug))  # raises with the first violation, e.g. a default its own schema refuses
