"""WebSocket routes (execution streams arrive with the dialect issues)."""

websocket_urlpatterns: list = []
