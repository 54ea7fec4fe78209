"""The console's plugin reference: every public plugin with its documentation, schemas and example."""

import re

import pytest
from django.urls import reverse

from accounts.roles import Role
from connectors.registry import all_plugins, get_plugin
from console.plugin_reference import plugin_catalog, render_markdown, requirement_notes, schema_rows
from tests.factories import AccountFactory

URL = "/admin/plugins/"


@pytest.fixture
def viewer_client(client, make_account):
    client.force_login(make_account(Role.VIEWER))
    return client


def article(page: str, plugin_id: str) -> str:
    match = re.search(
        rf'<article class="mr-plugin" id="[^"]+" data-plugin="{re.escape(plugin_id)}">(.*?)</article>', page, re.S
    )
    assert match, f"{plugin_id} is not on the page"
    return match.group(1)


def test_the_url_is_the_admin_one() -> None:
    assert reverse("admin:plugin_reference") == URL


@pytest.mark.django_db
def test_any_console_account_reads_every_public_plugin(viewer_client) -> None:
    response = viewer_client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    shown = re.findall(r'data-plugin="([^"]+)"', page)
    assert shown == [plugin.id for category in plugin_catalog() for plugin in category.plugins]
    assert sorted(shown) == sorted(plugin.id for plugin in all_plugins())
    assert "fibo" not in shown and "Fibonacci" not in page
    assert [h2 for h2 in re.findall(r"<h2>([^<]+)</h2>", page)] == sorted({p.category for p in all_plugins()})


@pytest.mark.django_db
def test_a_plugin_shows_its_documentation_tables_and_example(viewer_client) -> None:
    log = article(viewer_client.get(URL).content.decode(), "util.log")
    assert get_plugin("util.log").description in log
    assert "<li><code>message</code>: the text." in log  # the Markdown, rendered
    assert "io.kestra.plugin.core.log.Log" in log  # its alias
    inputs = re.search(r'<table class="mr-inputs">(.*?)</table>', log, re.S).group(1)
    message_row, level_row = re.findall(r"<tr><td>(.*?)</tr>", inputs, re.S)
    assert "<code>message</code>" in message_row and "<td>yes</td>" in message_row
    assert "<code>&quot;info&quot;</code>" in level_row and "<td>no</td>" in level_row
    assert "one of trace, debug, info, warn, warning, error, TRACE" in level_row
    outputs = re.search(r'<table class="mr-outputs">(.*?)</table>', log, re.S).group(1)
    assert "<code>message</code>" in outputs and "string" in outputs
    example = re.search(r'<pre class="mr-example"><code>(.*?)</code></pre>', log, re.S).group(1)
    assert "type: util.log" in example and "message: Hello from Millrace" in example


@pytest.mark.django_db
def test_documentation_html_is_shown_as_text(viewer_client, monkeypatch) -> None:
    echo = get_plugin("util.echo")
    monkeypatch.setattr(echo, "documentation", '<script>alert("x")</script>\n\n- <img src=x onerror=alert(1)>')
    monkeypatch.setattr(echo, "example", "- name: x\n  type: util.echo  # </code><script>1</script>\n")
    body = article(viewer_client.get(URL).content.decode(), "util.echo")
    assert "<script" not in body and "<img" not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert "&lt;/code&gt;&lt;script&gt;1&lt;/script&gt;" in body


@pytest.mark.django_db
def test_login_and_a_role_are_required(client) -> None:
    anonymous = client.get(URL)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("admin:login"))
    client.force_login(AccountFactory(username="nobody", default_namespace=None))
    assert client.get(URL).status_code == 302


@pytest.mark.django_db
def test_the_index_and_the_sidebar_link_it(viewer_client) -> None:
    index = viewer_client.get(reverse("admin:index")).content.decode()
    assert f'<a href="{URL}"' in index and ">Plugins</a>" in index
    flows = viewer_client.get(reverse("admin:flows_flow_changelist"))
    assert flows.status_code == 200
    sidebar = re.search(r'<nav class="sticky" id="nav-sidebar".*?</nav>', flows.content.decode(), re.S).group(0)
    assert 'class="app-reference' in sidebar and f'<a href="{URL}"' in sidebar


def test_markdown_escapes_everything_and_adds_only_known_tags() -> None:
    html = str(
        render_markdown(
            "# Title <b>\n\nText with **bold**, `<i>code</i>` and [docs](https://example.com/?a=1&b=2).\n"
            "[bad](javascript:alert(1)) and `unclosed\n\n"
            "- one\n  continued\n- two\n\n1. first\n2. second\n\n```\n<raw> & code\n```\n"
        )
    )
    assert "<h4>Title &lt;b&gt;</h4>" in html
    assert "<strong>bold</strong>" in html and "<code>&lt;i&gt;code&lt;/i&gt;</code>" in html
    assert '<a href="https://example.com/?a=1&amp;b=2" rel="noopener noreferrer">docs</a>' in html
    assert "javascript:" in html and 'href="javascript' not in html
    assert "`unclosed" in html
    assert "<ul><li>one continued</li><li>two</li></ul>" in html
    assert "<ol><li>first</li><li>second</li></ol>" in html
    assert "<pre><code>&lt;raw&gt; &amp; code</code></pre>" in html
    tags = set(re.findall(r"</?([a-z0-9]+)", html))
    assert tags <= {"h4", "p", "strong", "code", "a", "ul", "ol", "li", "pre"}


def test_schema_rows_and_notes() -> None:
    csv = get_plugin("data.csv")
    rows = {row.name: row for row in schema_rows(csv.input_schema)}
    assert rows["operation"].type == "one of PARSE, FORMAT, parse, format"
    assert rows["rows"].type == "array of object or array"
    assert rows["delimiter"].default == '","' and not rows["delimiter"].required
    assert requirement_notes(csv.input_schema) == ["Give exactly one of: from, rows."]
    subflow = get_plugin("flow.subflow")
    assert requirement_notes(subflow.input_schema) == ["Give at least one of: flowId, flowName, flow."]
    assert schema_rows({"type": "object"}) == []
    described = schema_rows({"properties": {"a": {"description": "Use `x<y>` with **care**"}}})
    assert described[0].description == "Use <code>x&lt;y&gt;</code> with <strong>care</strong>"
