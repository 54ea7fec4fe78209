"""FlowRunner paths. `auth_patterns` + `account_patterns` are FlowRunner's alone at the root;
`shared_patterns` (flows, executions) belong at the root to MILLRACE_ROOT_DIALECT."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from api.flowrunner.views.accounts import AccountViewSet
from api.flowrunner.views.auth import LoginView, LogoutView, RefreshView
from api.flowrunner.views.executions import (
    ExecutionDetailView,
    ExecutionFileView,
    ExecutionListView,
    ExecutionLogsView,
)
from api.flowrunner.views.flows import FlowDetailView, FlowListView, FlowRunView
from api.flowrunner.views.secrets import SecretDetailView, SecretListView

router = SimpleRouter(trailing_slash="")
router.register("api/v1/accounts", AccountViewSet, basename="account")

auth_patterns = [
    path("api/v1/auth/login", LoginView.as_view(), name="login"),
    path("api/v1/auth/refresh", RefreshView.as_view(), name="refresh"),
    path("api/v1/auth/logout", LogoutView.as_view(), name="logout"),
]
account_patterns = [
    *router.urls,
    path("api/v1/accounts/<str:account_id>/secrets", SecretListView.as_view(), name="secret-list"),
    path("api/v1/accounts/<str:account_id>/secrets/<str:key>", SecretDetailView.as_view(), name="secret-detail"),
]
shared_patterns = [
    path("api/v1/flows", FlowListView.as_view(), name="flow-list"),
    path("api/v1/flows/<str:flow_id>", FlowDetailView.as_view(), name="flow-detail"),
    path("api/v1/flows/<str:flow_id>/run", FlowRunView.as_view(), name="flow-run"),
    path("api/v1/executions", ExecutionListView.as_view(), name="execution-list"),
    path("api/v1/executions/<str:execution_id>", ExecutionDetailView.as_view(), name="execution-detail"),
    path("api/v1/executions/<str:execution_id>/logs", ExecutionLogsView.as_view(), name="execution-logs"),
    path("api/v1/executions/<str:execution_id>/file", ExecutionFileView.as_view(), name="execution-file"),
]

app_name = "flowrunner"
urlpatterns = auth_patterns + account_patterns + shared_patterns
