"""ActiveWorkflow paths: /api/v1/agents, /api/v1/messages, /api/v1/workflows."""

app_name = "activeworkflow"
urlpatterns: list = []
