"""workflowdev paths. At the root every tree but `shared_patterns` is workflowdev's alone."""

from django.urls import path

from api.workflowdev.views import catalog, executions, files, flows, namespaces, triggers
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
    path("api/v1/triggers", triggers.TriggerListView.as_view(), name="triggers"),
    path("api/v1/triggers/<str:id>", triggers.TriggerDetailView.as_view(), name="trigger"),
    path("api/v1/triggers/<str:id>/backfill", triggers.TriggerBackfillView.as_view(), name="trigger-backfill"),
    path("api/v1/webhook/<str:key>", triggers.WebhookView.as_view(), name="webhook"),
    path("api/v1/plugins", catalog.PluginListView.as_view(), name="plugins"),
    path("api/v1/plugins/categories", catalog.PluginCategoriesView.as_view(), name="plugin-categories"),
    path("api/v1/plugins/<str:id>", catalog.PluginDetailView.as_view(), name="plugin"),
    path("api/v1/credentials", catalog.CredentialListView.as_view(), name="credentials"),
    path("api/v1/credentials/<str:id>", catalog.CredentialDetailView.as_view(), name="credential"),
    path("api/v1/kv/<str:namespace>", catalog.KeyListView.as_view(), name="kv-keys"),
    path("api/v1/kv/<str:namespace>/<path:key>", catalog.KeyValueView.as_view(), name="kv"),
    path("api/v1/approvals", executions.ApprovalListView.as_view(), name="approvals"),
    path("api/v1/approvals/<str:id>", executions.ApprovalDetailView.as_view(), name="approval"),
    path("api/v1/approvals/<str:id>/approve", executions.ApprovalApproveView.as_view(), name="approval-approve"),
    path("api/v1/approvals/<str:id>/reject", executions.ApprovalRejectView.as_view(), name="approval-reject"),
    path("api/v1/namespaces", namespaces.NamespaceListView.as_view(), name="namespaces"),
    path("api/v1/namespaces/<str:name>", namespaces.NamespaceDetailView.as_view(), name="namespace"),
    path("api/v1/namespaces/<str:name>/members", namespaces.MemberListView.as_view(), name="members"),
    path(
        "api/v1/namespaces/<str:name>/members/<str:account_id>",
        namespaces.MemberDetailView.as_view(),
        name="member",
    ),
    path("api/v1/namespaces/<str:name>/files", files.NamespaceFilesView.as_view(), name="namespace-files"),
    path(
        "api/v1/namespaces/<str:name>/files/directory",
        files.NamespaceFileDirectoryView.as_view(),
        name="namespace-file-directory",
    ),
    path(
        "api/v1/namespaces/<str:name>/files/stats", files.NamespaceFileStatsView.as_view(), name="namespace-file-stats"
    ),
]

# flows and executions: owned at the root by MILLRACE_ROOT_DIALECT, always under /workflowdev/
shared_patterns = [
    path("api/v1/flows", flows.FlowListView.as_view(), name="flows"),
    path("api/v1/flows/validate", flows.FlowValidateView.as_view(), name="flow-validate"),
    path("api/v1/flows/import", flows.FlowImportView.as_view(), name="flow-import"),
    path("api/v1/flows/<str:id>", flows.FlowDetailView.as_view(), name="flow"),
    path("api/v1/flows/<str:id>/execute", flows.FlowExecuteView.as_view(), name="flow-execute"),
    path("api/v1/flows/<str:id>/export", flows.FlowExportView.as_view(), name="flow-export"),
    path("api/v1/flows/<str:id>/revisions", flows.FlowRevisionsView.as_view(), name="flow-revisions"),
    path("api/v1/flows/<str:id>/revisions/<int:rev>/restore", flows.FlowRestoreView.as_view(), name="flow-restore"),
    path("api/v1/executions", executions.ExecutionListView.as_view(), name="executions"),
    path("api/v1/executions/<str:id>", executions.ExecutionDetailView.as_view(), name="execution"),
    path("api/v1/executions/<str:id>/cancel", executions.ExecutionCancelView.as_view(), name="execution-cancel"),
    path("api/v1/executions/<str:id>/retry", executions.ExecutionRetryView.as_view(), name="execution-retry"),
    path("api/v1/executions/<str:id>/replay", executions.ExecutionReplayView.as_view(), name="execution-replay"),
    path("api/v1/executions/<str:id>/file", files.ExecutionFileView.as_view(), name="execution-file"),
    path("api/v1/executions/<str:id>/file/metas", files.ExecutionFileMetasView.as_view(), name="execution-file-metas"),
]

app_name = "workflowdev"
urlpatterns = own_patterns + shared_patterns
