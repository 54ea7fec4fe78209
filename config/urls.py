"""Mount the five dialects (DIALECTS.md, "Mounting").

Each dialect's own paths are served at the root; FlowRunner and workflowdev both define
`/api/v1/flows` and `/api/v1/executions`, so those two trees belong at the root to
MILLRACE_ROOT_DIALECT, and both dialects are also served in full under their own prefix.
"""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from api.flowrunner import urls as flowrunner_urls
from api.workflowdev import urls as workflowdev_urls

if settings.MILLRACE_ROOT_DIALECT == "flowrunner":
    root_shared = (flowrunner_urls.shared_patterns, "flowrunner")
else:
    root_shared = (workflowdev_urls.shared_patterns, "workflowdev")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("api.docs")),
    path("flowrunner/", include("api.flowrunner.urls", namespace="flowrunner-prefixed")),
    path("workflowdev/", include("api.workflowdev.urls", namespace="workflowdev-prefixed")),
    path("workflowsvc/api/v1/", include("api.workflowsvc.urls")),
    path("v1/", include("api.connector_proxy.urls")),
    path("", include(root_shared, namespace="root-shared")),
    path("", include((flowrunner_urls.auth_patterns + flowrunner_urls.account_patterns, "flowrunner"))),
    path("", include("api.activeworkflow.urls")),
    path("", include((workflowdev_urls.own_patterns, "workflowdev"))),
]
