"""workflowsvc paths, mounted at /workflowsvc/api/v1/."""

app_name = "workflowsvc"
urlpatterns: list = []
