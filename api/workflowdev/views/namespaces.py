"""Namespaces and their members (Kestra-style; DIALECTS.md "Authentication and roles")."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors
from accounts.models import Account
from accounts.roles import Role
from accounts.services import membership_remove, membership_set, namespace_create, namespace_delete, namespace_update
from api.workflowdev.serializers.resources import (
    MemberSerializer,
    MemberWriteSerializer,
    NamespacePatchSerializer,
    NamespaceSerializer,
    NamespaceWriteSerializer,
)
from api.workflowdev.views.base import BAD_QUERY, PAGE_PARAMETERS, WorkflowDevAPIView, page_response, paginate
from core.errors import NotFound
from core.ids import parse_uuid

NOT_FOUND = OpenApiResponse(description="Not found (or a namespace you cannot read)")
FORBIDDEN = OpenApiResponse(description="Needs a global admin (namespaces) or the namespace's admin (members)")


class NamespaceListView(WorkflowDevAPIView):
    @extend_schema(
        summary="List the namespaces you can read",
        operation_id="namespaces_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_response(NamespaceSerializer), 400: BAD_QUERY},
    )
    def get(self, request: Request) -> Response:
        """List the namespaces you can read."""
        return paginate(self, request, selectors.namespace_list(account=request.user), NamespaceSerializer)

    @extend_schema(
        summary="Create a namespace (global admin)",
        request=NamespaceWriteSerializer,
        responses={
            201: NamespaceSerializer,
            403: FORBIDDEN,
            409: OpenApiResponse(description="Exists"),
            422: OpenApiResponse(description="An invalid name"),
        },
    )
    def post(self, request: Request) -> Response:
        """Create a namespace. Needs the global admin role."""
        body = NamespaceWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        namespace = namespace_create(actor=request.user, **body.validated_data)
        return Response(NamespaceSerializer(namespace).data, status=status.HTTP_201_CREATED)


class NamespaceDetailView(WorkflowDevAPIView):
    @extend_schema(summary="Get a namespace", responses={200: NamespaceSerializer, 404: NOT_FOUND})
    def get(self, request: Request, name: str) -> Response:
        """Get a namespace you can read."""
        return Response(NamespaceSerializer(selectors.namespace_get(account=request.user, name=name)).data)

    @extend_schema(
        summary="Change a namespace's description (its admin)",
        request=NamespacePatchSerializer,
        responses={
            200: NamespaceSerializer,
            403: FORBIDDEN,
            404: NOT_FOUND,
            422: OpenApiResponse(description="Invalid"),
        },
    )
    def patch(self, request: Request, name: str) -> Response:
        """Change a namespace's description. Needs the admin role in the namespace."""
        namespace = selectors.namespace_get(account=request.user, name=name)
        body = NamespacePatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        namespace = namespace_update(actor=request.user, namespace=namespace, **body.validated_data)
        return Response(NamespaceSerializer(namespace).data)

    @extend_schema(
        summary="Delete a namespace and everything in it (global admin)",
        responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def delete(self, request: Request, name: str) -> Response:
        """Delete a namespace with its flows, executions, credentials and keys. Needs the global admin role."""
        namespace_delete(actor=request.user, namespace=selectors.namespace_get(account=request.user, name=name))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberListView(WorkflowDevAPIView):
    @extend_schema(
        summary="List a namespace's members",
        parameters=PAGE_PARAMETERS,
        responses={200: page_response(MemberSerializer), 404: NOT_FOUND},
    )
    def get(self, request: Request, name: str) -> Response:
        """List a namespace's members and their roles."""
        namespace = selectors.namespace_get(account=request.user, name=name)
        members = selectors.namespace_members(account=request.user, namespace=namespace)
        return paginate(self, request, members, MemberSerializer)


class MemberDetailView(WorkflowDevAPIView):
    @extend_schema(
        summary="Give an account a role in the namespace (its admin)",
        request=MemberWriteSerializer,
        responses={
            200: MemberSerializer,
            403: FORBIDDEN,
            404: NOT_FOUND,
            422: OpenApiResponse(description="A field is missing or invalid"),
        },
    )
    def put(self, request: Request, name: str, account_id: str) -> Response:
        """Give an account a role in the namespace, or change it. Needs the admin role in the namespace."""
        namespace = selectors.namespace_get(account=request.user, name=name)
        body = MemberWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        selectors.ensure_role(request.user, namespace, Role.ADMIN)  # before telling which accounts exist
        account = _account(account_id)
        membership = membership_set(
            actor=request.user, namespace=namespace, account=account, role=body.validated_data["role"]
        )
        member = selectors.NamespaceMember(account.pk, account.username, membership.role, "membership")
        return Response(MemberSerializer(member).data)

    @extend_schema(
        summary="Remove an account's membership (its admin)", responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND}
    )
    def delete(self, request: Request, name: str, account_id: str) -> Response:
        """Remove an account's membership of the namespace. Needs the admin role in the namespace."""
        namespace = selectors.namespace_get(account=request.user, name=name)
        selectors.ensure_role(request.user, namespace, Role.ADMIN)
        membership_remove(actor=request.user, namespace=namespace, account=_account(account_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _account(account_id: str) -> Account:
    account = Account.objects.filter(pk=parse_uuid(account_id, what="Account")).first()
    if account is None:
        raise NotFound("Account not found.")
    return account
