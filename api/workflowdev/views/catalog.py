"""The plugin catalog, credentials (values write-only) and the namespaced KV store."""

from drf_spectacular.plumbing import build_array_type, build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.selectors import namespace_get
from api.filtering import FilteredListMixin
from api.pagination import Window
from api.workflowdev.dialect import WorkflowDevPagination
from api.workflowdev.filters import CredentialFilterSet
from api.workflowdev.serializers.resources import (
    CredentialSerializer,
    CredentialWriteSerializer,
    KeyListItemSerializer,
    KeyValueSerializer,
    KeyValueWriteSerializer,
    PluginSerializer,
)
from api.workflowdev.views.base import (
    BAD_QUERY,
    PAGE_PARAMETERS,
    ROLE_REFUSED,
    WorkflowDevAPIView,
    body_namespace,
    page_response,
    paginate,
)
from connectors.registry import all_plugins, categories, get_plugin
from core.errors import NotFound, ValidationFailed
from vault import selectors as vault_selectors
from vault import services as vault_services
from vault.models import Secret

NOT_FOUND = OpenApiResponse(description="Not found (or in a namespace you cannot read)")


class WholeCatalogPagination(WorkflowDevPagination):
    """The seed lists *all* plugins: no limit unless one is asked for (then at most 1000)."""

    def paginate_queryset(self, queryset, request, view=None):  # type: ignore[override]
        self.window = Window(request.query_params, default=1000)
        return self.window.apply(queryset)


class PluginListView(WorkflowDevAPIView):
    @extend_schema(
        summary="List plugins with their manifests",
        operation_id="plugins_list",
        parameters=[OpenApiParameter("category", str), OpenApiParameter("q", str), *PAGE_PARAMETERS],
        responses={200: page_response(PluginSerializer), 400: BAD_QUERY},
    )
    def get(self, request: Request) -> Response:
        """List the task plugins with their manifests, optionally of one category or matching a search term (`q`)."""
        plugins = [plugin.manifest() for plugin in all_plugins()]
        category, q = request.query_params.get("category"), (request.query_params.get("q") or "").lower()
        if category:
            plugins = [p for p in plugins if p["category"] == category]
        if q:
            plugins = [p for p in plugins if q in p["id"].lower() or q in p["name"].lower()]
        paginator = WholeCatalogPagination()
        page = paginator.paginate_queryset(plugins, request, self)
        return paginator.get_paginated_response(PluginSerializer(page, many=True).data)


class PluginCategoriesView(WorkflowDevAPIView):
    @extend_schema(
        summary="List plugin categories", responses={200: build_array_type(build_basic_type(OpenApiTypes.STR))}
    )
    def get(self, request: Request) -> Response:
        """List the plugin categories."""
        return Response(categories())


class PluginDetailView(WorkflowDevAPIView):
    @extend_schema(summary="Get a plugin manifest", responses={200: PluginSerializer, 404: NOT_FOUND})
    def get(self, request: Request, id: str) -> Response:
        """Get a plugin's manifest by its type, e.g. `http.request`."""
        plugin = get_plugin(id)
        if plugin is None or not plugin.public:  # a hidden plugin is not in the catalog
            raise NotFound(f"Plugin '{id}' not found.")
        return Response(PluginSerializer(plugin.manifest()).data)


class CredentialListView(FilteredListMixin, WorkflowDevAPIView):
    filterset_class = CredentialFilterSet
    queryset = Secret.objects.none()  # the model, for the schema; requests use the scoped selector

    @extend_schema(
        summary="List credentials (never their values)",
        operation_id="credentials_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_response(CredentialSerializer), 400: BAD_QUERY},
    )
    def get(self, request: Request) -> Response:
        """List the credentials of the namespaces you can read. Values are never returned."""
        credentials = self.filter_queryset(vault_selectors.credential_list(actor=request.user))
        return paginate(self, request, credentials, CredentialSerializer)

    @extend_schema(
        summary="Create a credential",
        request=CredentialWriteSerializer,
        responses={
            201: CredentialSerializer,
            403: ROLE_REFUSED,
            404: NOT_FOUND,
            409: OpenApiResponse(description="Name in use"),
            422: OpenApiResponse(description="An invalid name or value"),
        },
    )
    def post(self, request: Request) -> Response:
        """Create a credential in a namespace. The value is stored encrypted and never returned; flows of the
        namespace use it by name."""
        body = CredentialWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        secret = vault_services.secret_set(
            actor=request.user,
            name=data["name"],
            value=data["value"],
            namespace=body_namespace(request.user, data.get("namespace")),
            description=data.get("description", ""),
            create_only=True,
        )
        return Response(CredentialSerializer(secret).data, status=status.HTTP_201_CREATED)


class CredentialDetailView(WorkflowDevAPIView):
    @extend_schema(summary="Get a credential (never its value)", responses={200: CredentialSerializer, 404: NOT_FOUND})
    def get(self, request: Request, id: str) -> Response:
        """Get a credential's name, namespace and description (never its value)."""
        return Response(CredentialSerializer(vault_selectors.credential_get(actor=request.user, credential_id=id)).data)

    @extend_schema(
        summary="Update a credential (description, or a new value; a rename needs the value)",
        request=CredentialWriteSerializer(partial=True),
        responses={
            200: CredentialSerializer,
            403: ROLE_REFUSED,
            404: NOT_FOUND,
            409: OpenApiResponse(description="Name in use"),
            422: OpenApiResponse(description="An invalid name or value"),
        },
    )
    def put(self, request: Request, id: str) -> Response:
        """Update a credential's description or value. Renaming it needs the value again."""
        secret = vault_selectors.credential_get(actor=request.user, credential_id=id)
        body = CredentialWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if data.get("namespace") and data["namespace"] != secret.namespace.name:
            raise ValidationFailed(
                "A credential cannot move to another namespace.",
                details=[{"field": "namespace", "reason": "cannot change"}],
            )
        secret = vault_services.credential_update(
            actor=request.user,
            secret=secret,
            name=data.get("name"),
            description=data.get("description"),
            value=data.get("value"),
        )
        return Response(CredentialSerializer(secret).data)

    @extend_schema(summary="Delete a credential", responses={204: None, 403: ROLE_REFUSED, 404: NOT_FOUND})
    def delete(self, request: Request, id: str) -> Response:
        """Delete a credential."""
        secret = vault_selectors.credential_get(actor=request.user, credential_id=id)
        vault_services.secret_delete(actor=request.user, secret=secret)
        return Response(status=status.HTTP_204_NO_CONTENT)


class KeyListView(WorkflowDevAPIView):
    @extend_schema(
        summary="List the keys of a namespace",
        operation_id="kv_keys_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_response(KeyListItemSerializer), 404: NOT_FOUND},
    )
    def get(self, request: Request, namespace: str) -> Response:
        """List the keys stored in a namespace's key-value store."""
        ns = namespace_get(account=request.user, name=namespace)
        return paginate(
            self, request, vault_selectors.kv_entry_list(actor=request.user, namespace=ns), KeyListItemSerializer
        )


class KeyValueView(WorkflowDevAPIView):
    @extend_schema(summary="Get a value", responses={200: KeyValueSerializer, 404: NOT_FOUND})
    def get(self, request: Request, namespace: str, key: str) -> Response:
        """Get the value stored under a key of a namespace."""
        ns = namespace_get(account=request.user, name=namespace)
        return Response(
            KeyValueSerializer(vault_selectors.kv_entry_get(actor=request.user, namespace=ns, key=key)).data
        )

    @extend_schema(
        summary="Set a value (optionally expiring after ttl seconds)",
        request=KeyValueWriteSerializer,
        responses={
            200: KeyValueSerializer,
            403: ROLE_REFUSED,
            404: NOT_FOUND,
            413: OpenApiResponse(description="Value too large"),
            422: OpenApiResponse(description="A field is missing or invalid"),
        },
    )
    def put(self, request: Request, namespace: str, key: str) -> Response:
        """Store a JSON value under a key of a namespace, optionally expiring after `ttl` seconds."""
        ns = namespace_get(account=request.user, name=namespace)
        if not isinstance(request.data, dict) or "value" not in request.data:
            raise ValidationFailed("The body needs a 'value'.", details=[{"field": "value", "reason": "required"}])
        body = KeyValueWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        entry = vault_services.kv_entry_set(
            actor=request.user,
            namespace=ns,
            key=key,
            value=body.validated_data["value"],
            ttl=body.validated_data.get("ttl"),
        )
        return Response(KeyValueSerializer(entry).data)

    @extend_schema(summary="Delete a key", responses={204: None, 403: ROLE_REFUSED, 404: NOT_FOUND})
    def delete(self, request: Request, namespace: str, key: str) -> Response:
        """Delete a key from a namespace's key-value store."""
        ns = namespace_get(account=request.user, name=namespace)
        vault_services.kv_entry_delete(actor=request.user, namespace=ns, key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)
