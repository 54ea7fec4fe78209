"""workflowdev paths. At the root every tree but `shared_patterns` is workflowdev's alone."""

from django.urls import path

from api.workflowdev.views.auth import LoginView, LogoutView, RefreshView, RegisterView
from api.workflowdev.views.ops import AuditViewSet, HealthView, MetricsView, ReadyView

own_patterns = [
    path("auth/register", RegisterView.as_view(), name="register"),
    path("auth/login", LoginView.as_view(), name="login"),
    path("auth/refresh", RefreshView.as_view(), name="refresh"),
    path("auth/logout", LogoutView.as_view(), name="logout"),
    path("healthz", HealthView.as_view(), name="healthz"),
    path("readyz", ReadyView.as_view(), name="readyz"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("api/v1/audit", AuditViewSet.as_view({"get": "list"}), name="audit"),
]
shared_patterns: list = []  # flows and executions: owned at the root by MILLRACE_ROOT_DIALECT

app_name = "workflowdev"
urlpatterns = own_patterns + shared_patterns
