"""PUT /workflows/{id}/status during real runs, a REST_CONNECTOR run, forEach and timeouts.

The engine runs in this process (eager dispatch) on a transactional database; time is
driven with the sweeper instead of sleeping.
"""

import pytest
from pytest_httpserver import HTTPServer

from accounts.roles import Role
from executions.engine.sweeper import sweep
from tests.api.workflowsvc.conftest import REST_FLOW, error_of, url
from tests.executions.engine.support import later

NAP = """
name: napper
tasks:
  - name: nap
    type: util.sleep
    properties: {seconds: 30}
  - name: after
    type: util.echo
    properties: {value: "{{ outputs.nap.slept }}"}
"""

LOOP = """
name: looper
tasks:
  - name: each
    type: flow.forEach
    properties:
      items: [a, b]
    tasks:
      - name: shout
        type: util.echo
        properties: {value: "{{ item | upper }}"}
  - name: done
    type: util.echo
    properties: {value: ok}
"""

ALERT = """
name: alerting
timeout: 30
timeoutPolicy: ALERT_ONLY
tasks:
  - name: nap
    type: util.sleep
    properties: {seconds: 60}
"""


@pytest.fixture(autouse=True)
def eager(settings, transactional_db) -> None:
    settings.MILLRACE_ENGINE_EAGER = True


@pytest.fixture
def start(api, make_flow):
    def run(source: str, inputs: dict | None = None, **flow_kwargs) -> dict:
        flow = make_flow(source, **flow_kwargs)
        response = api.post(url(), {"_workflowDefId": str(flow.pk), "_inputParams": inputs or {}}, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    return run


def put_status(api, run_id: str, word: str, **query: str):
    return api.put(url(f"/{run_id}/status", **query), {"_status": word}, format="json")


def get(api, run_id: str, **query: str) -> dict:
    response = api.get(url(f"/{run_id}", **query))
    assert response.status_code == 200
    return response.json()


def tasks_of(body: dict) -> list[tuple[str, str]]:
    return [(task["_name"], task["_status"]) for task in body["_tasks"]]


def test_rest_connector_run_completes_with_its_output(start, settings, httpserver: HTTPServer):
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/v1/artists/0TnOYISbd1XYRBk9myaseg", method="GET").respond_with_json(
        {"name": "Pink Floyd", "genres": ["rock"]}
    )
    created = start(
        REST_FLOW,
        {"_url": httpserver.url_for("/v1/artists/0TnOYISbd1XYRBk9myaseg")},
        name="rest_connector_workflow",
    )
    assert created["_status"] == "COMPLETED"
    task = created["_tasks"][0]
    assert (task["_name"], task["_type"], task["_sequenceno"], task["_status"]) == (
        "REST_CONNECTOR",
        "REST_CONNECTOR",
        1,
        "COMPLETED",
    )
    output = created["_output"]["REST_CONNECTOR"]
    assert output["_statusCode"] == 200
    assert output["_body"] == {"name": "Pink Floyd", "genres": ["rock"]}


def test_rest_connector_run_listed_and_got_as_completed(api, start, settings, httpserver: HTTPServer):
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_request("/hook", method="POST", json={"a": 1}).respond_with_json({"ok": True}, status=201)
    created = start(
        "name: poster\ntasks:\n  - name: call\n    type: REST_CONNECTOR\n    properties:\n"
        '      _url: "{{ inputs._url }}"\n      _method: POST\n      _headers: {X-Token: abc}\n'
        "      _body: {a: 1}\n",
        {"_url": httpserver.url_for("/hook")},
    )
    body = get(api, created["_id"])
    assert body["_status"] == "COMPLETED"
    assert body["_output"]["call"]["_statusCode"] == 201 and body["_output"]["call"]["_body"] == {"ok": True}
    assert httpserver.log[0][0].headers["X-Token"] == "abc"
    listed = api.get(url(_status="COMPLETED")).json()["_list"]
    assert [item["_id"] for item in listed] == [created["_id"]]


def test_a_failing_rest_call_fails_the_run_and_retried_runs_it_again(api, start, settings, httpserver: HTTPServer):
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    httpserver.expect_oneshot_request("/flaky").respond_with_data("down", status=503)
    created = start(
        REST_FLOW.replace("rest_connector_workflow", "flaky").replace("- name: REST_CONNECTOR", "- name: call"),
        {"_url": httpserver.url_for("/flaky")},
    )
    assert created["_status"] == "FAILED"
    assert tasks_of(created) == [("call", "FAILED")]
    assert put_status(api, created["_id"], "RESUMED").status_code == 409

    httpserver.expect_request("/flaky").respond_with_json({"up": True})
    response = put_status(api, created["_id"], "RETRIED")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["_status"] == "COMPLETED" and tasks_of(body) == [("call", "COMPLETED")]
    assert body["_output"]["call"]["_body"] == {"up": True}
    conflict = put_status(api, created["_id"], "RETRIED")
    assert conflict.status_code == 409 and error_of(conflict)["_code"] == "conflict"


def test_pause_while_a_sleep_waits_then_resume(api, start, caller):
    created = start(NAP)
    assert created["_status"] == "RUNNING" and tasks_of(created) == [("nap", "RUNNING")]

    paused = put_status(api, created["_id"], "PAUSED")
    assert paused.status_code == 200, paused.content
    body = paused.json()
    assert body["_status"] == "PAUSED" and tasks_of(body) == [("nap", "PAUSED")]  # as the seed's example
    assert body["_updatedBy"] == str(caller.pk)
    assert put_status(api, created["_id"], "PAUSED").status_code == 409

    sweep(now=later(31))  # the timer is due, but nothing runs while paused
    body = get(api, created["_id"])
    assert body["_status"] == "PAUSED" and tasks_of(body) == [("nap", "PAUSED")]
    assert [item["_id"] for item in api.get(url(_status="PAUSED")).json()["_list"]] == [created["_id"]]

    resumed = put_status(api, created["_id"], "RESUMED")
    assert resumed.status_code == 200
    body = resumed.json()
    assert body["_status"] == "COMPLETED"
    assert tasks_of(body) == [("nap", "COMPLETED"), ("after", "COMPLETED")]
    assert body["_output"]["after"] == 30
    assert put_status(api, created["_id"], "RESUMED").status_code == 409
    assert put_status(api, created["_id"], "PAUSED").status_code == 409


def test_terminate_a_waiting_run(api, start):
    created = start(NAP)
    response = put_status(api, created["_id"], "TERMINATED")
    assert response.status_code == 200
    body = response.json()
    assert body["_status"] == "TERMINATED" and tasks_of(body) == [("nap", "TERMINATED")]
    assert sweep(now=later(60))["woken"] == 0
    assert get(api, created["_id"])["_status"] == "TERMINATED"
    assert [item["_id"] for item in api.get(url(_status="TERMINATED")).json()["_list"]] == [created["_id"]]
    assert put_status(api, created["_id"], "TERMINATED").status_code == 409
    retried = put_status(api, created["_id"], "RETRIED")  # a terminated run may be retried
    assert retried.status_code == 200 and retried.json()["_status"] == "RUNNING"


def test_terminate_a_paused_run(api, start):
    created = start(NAP)
    put_status(api, created["_id"], "PAUSED")
    assert put_status(api, created["_id"], "TERMINATED").json()["_status"] == "TERMINATED"


@pytest.mark.parametrize("body", [{"_status": "COMPLETED"}, {"_status": "paused!"}, {}, {"status": "PAUSED"}])
def test_other_status_words_are_400(api, start, body):
    created = start(NAP)
    response = api.put(url(f"/{created['_id']}/status"), body, format="json")
    assert response.status_code == 400
    assert error_of(response)["_details"]["field"] == "_status"
    assert get(api, created["_id"])["_status"] == "RUNNING"


def test_status_put_scoping_and_roles(api, start, client_for, make_account, seed_ns):
    created = start(NAP)
    viewer = make_account(Role.VIEWER, namespace=seed_ns)
    response = client_for(viewer).put(url(f"/{created['_id']}/status"), {"_status": "PAUSED"}, format="json")
    assert response.status_code == 403
    stranger = make_account(Role.EXECUTOR)  # executor in a namespace of its own
    response = client_for(stranger).put(url(f"/{created['_id']}/status"), {"_status": "PAUSED"}, format="json")
    assert response.status_code == 403  # it names the seed namespace, which it cannot read
    assert put_status(api, "00000000-0000-0000-0000-000000000000", "PAUSED").status_code == 404
    assert get(api, created["_id"])["_status"] == "RUNNING"


def test_loop_over_tasks_of_a_real_for_each(api, start):
    created = start(LOOP)
    assert created["_status"] == "COMPLETED"
    assert tasks_of(created) == [("each", "COMPLETED"), ("done", "COMPLETED")]
    body = get(api, created["_id"], _includeLoopOverTasks="true")
    assert sorted(tasks_of(body)) == [("done", "COMPLETED"), ("each", "COMPLETED")] + [("shout", "COMPLETED")] * 2
    assert [task["_sequenceno"] for task in body["_tasks"]] == sorted(task["_sequenceno"] for task in body["_tasks"])


def test_alert_only_timeout_is_shown_and_does_not_end_the_run(api, start):
    created = start(ALERT)
    assert (created["_timeoutSeconds"], created["_timeoutPolicy"]) == (30, "ALERT_ONLY")
    sweep(now=later(31))
    body = get(api, created["_id"])
    assert body["_status"] == "RUNNING"
    assert (body["_timeoutSeconds"], body["_timeoutPolicy"]) == (30, "ALERT_ONLY")


def test_time_out_wf_ends_the_run_timed_out(api, start):
    created = start(ALERT.replace("timeoutPolicy: ALERT_ONLY\n", "").replace("alerting", "strict"))
    assert (created["_timeoutSeconds"], created["_timeoutPolicy"]) == (30, "TIME_OUT_WF")
    sweep(now=later(31))
    body = get(api, created["_id"])
    assert body["_status"] == "TIMED_OUT" and tasks_of(body) == [("nap", "TIMED_OUT")]
    assert [item["_id"] for item in api.get(url(_status="TIMED_OUT")).json()["_list"]] == [created["_id"]]
