"""FlowRunner paths. `auth_patterns` + `account_patterns` are FlowRunner's alone at the root."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from api.flowrunner.views.accounts import AccountViewSet
from api.flowrunner.views.auth import LoginView, LogoutView, RefreshView

router = SimpleRouter(trailing_slash="")
router.register("api/v1/accounts", AccountViewSet, basename="account")

auth_patterns = [
    path("api/v1/auth/login", LoginView.as_view(), name="login"),
    path("api/v1/auth/refresh", RefreshView.as_view(), name="refresh"),
    path("api/v1/auth/logout", LogoutView.as_view(), name="logout"),
]
account_patterns = router.urls
shared_patterns: list = []  # flows and executions: owned at the root by MILLRACE_ROOT_DIALECT

app_name = "flowrunner"
urlpatterns = auth_patterns + account_patterns + shared_patterns
