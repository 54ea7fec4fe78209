"""The console's own static files are served from the `console` app, without collectstatic."""

import pytest


@pytest.mark.parametrize(
    "name",
    [
        "millrace/console.css",
        "millrace/editor.js",
        "millrace/editor.css",
        "millrace/vendor/codemirror.bundle.js",
        "millrace/dashboard.css",
        "millrace/dashboard.js",
    ],
)
def test_the_console_assets_are_served(client, name):
    response = client.get(f"/static/{name}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content if response.streaming else [response.content])
