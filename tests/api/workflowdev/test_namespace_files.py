"""Namespace files in workflowdev (Kestra's API): upload, download, list, stats, delete, move;
roles, isolation, path checks, the size cap and the body cap of an upload."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AuditEntry
from accounts.roles import Role
from api.asgi_limits import BodySizeLimit
from core import storage
from tests.api.test_body_limits import Client, drive, scope
from tests.api.workflowdev.conftest import API, assert_error
from tests.factories import NamespaceFactory

FILES = f"{API}/namespaces/production/files"
ATTRIBUTES = {"fileName", "type", "size", "lastModifiedTime", "creationTime"}


def upload(client, path: str, content: bytes = b"print('hi')\n", namespace: str = "production", name: str = "x.py"):
    return client.post(
        f"{API}/namespaces/{namespace}/files?path={path}",
        {"fileContent": SimpleUploadedFile(name, content)},
        format="multipart",
    )


def stored_keys(namespace: str = "production") -> set[str]:
    return set(storage.walk(namespace))


def test_an_upload_creates_then_replaces_and_the_download_streams_the_bytes(api):
    created = upload(api, "/scripts/etl.py", b"print(1)\n")
    assert created.status_code == 201, created.content
    assert created.json() == {**created.json(), "fileName": "etl.py", "type": "File", "size": 9}
    assert set(created.json()) == ATTRIBUTES and created.json()["lastModifiedTime"] > 0
    replaced = upload(api, "scripts//etl.py", b"print(22)\n")  # the same file, however the path is written
    assert replaced.status_code == 200 and replaced.json()["size"] == 10
    response = api.get(f"{FILES}?path=/scripts/etl.py")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"print(22)\n"
    assert response["Content-Disposition"] == 'attachment; filename="etl.py"'
    assert response["Content-Type"] == "text/x-python"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert stored_keys() == {"production/_files/scripts/etl.py"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [("report.csv", "text/csv"), ("page.html", "application/octet-stream"), ("blob", "application/octet-stream")],
    ids=["csv", "html-is-bytes", "unknown"],
)
def test_a_download_has_a_type_a_browser_will_not_run(api, name, expected):
    upload(api, name, b"<script>alert(1)</script>")
    response = api.get(f"{FILES}?path={name}")
    assert response["Content-Type"] == expected
    assert "sandbox" in response["Content-Security-Policy"]


def test_a_directory_lists_directories_first_then_files_in_kestras_shape(api):
    for path in ("/b.txt", "/a.txt", "/lib/util.py", "/lib/deep/x.py"):
        assert upload(api, path).status_code == 201
    root = api.get(f"{FILES}/directory")
    assert root.status_code == 200
    assert [(e["type"], e["fileName"]) for e in root.json()] == [
        ("Directory", "lib"),
        ("File", "a.txt"),
        ("File", "b.txt"),
    ]
    assert all(set(entry) == ATTRIBUTES for entry in root.json())
    lib = api.get(f"{FILES}/directory?path=/lib/").json()
    assert [(e["type"], e["fileName"], e["size"]) for e in lib] == [("Directory", "deep", 0), ("File", "util.py", 12)]
    assert api.get(f"{FILES}/directory?path=/").json() == root.json()


def test_listing_an_empty_namespace_a_missing_directory_and_a_file(api):
    assert api.get(f"{FILES}/directory").json() == []
    assert_error(api.get(f"{FILES}/directory?path=nothing"), 404, "not_found")
    upload(api, "/a.txt")
    assert_error(api.get(f"{FILES}/directory?path=a.txt"), 400, "invalid_request")


def test_stats_of_a_file_a_directory_and_the_root(api):
    upload(api, "/dir/f.txt", b"12345")
    assert api.get(f"{FILES}/stats?path=/dir/f.txt").json() == {
        **api.get(f"{FILES}/stats?path=/dir/f.txt").json(),
        "fileName": "f.txt",
        "type": "File",
        "size": 5,
    }
    assert api.get(f"{FILES}/stats?path=dir").json()["type"] == "Directory"
    assert api.get(f"{FILES}/stats").json() == {
        "fileName": "",
        "type": "Directory",
        "size": 0,
        "lastModifiedTime": None,
        "creationTime": None,
    }
    assert_error(api.get(f"{FILES}/stats?path=nope"), 404, "not_found")


def test_delete_a_file_and_a_directory_with_everything_under_it(api):
    for path in ("/keep.txt", "/gone/a.txt", "/gone/sub/b.txt", "/lone/only.txt"):
        upload(api, path)
    assert api.delete(f"{FILES}?path=/gone").status_code == 204
    assert api.delete(f"{FILES}?path=/lone/only.txt").status_code == 204
    assert stored_keys() == {"production/_files/keep.txt"}
    assert [e["fileName"] for e in api.get(f"{FILES}/directory").json()] == ["keep.txt"]  # no empty directory left
    assert_error(api.delete(f"{FILES}?path=/gone"), 404, "not_found")
    assert AuditEntry.objects.filter(action="namespace_file.delete", namespace="production").count() == 2


def test_move_a_file_and_a_directory(api):
    upload(api, "/a.txt", b"A")
    upload(api, "/src/x.py", b"X")
    upload(api, "/src/sub/y.py", b"Y")
    assert api.put(f"{FILES}?from=/a.txt&to=/docs/b.txt").status_code == 204
    assert api.put(f"{FILES}?from=src&to=/lib/src").status_code == 204
    assert stored_keys() == {
        "production/_files/docs/b.txt",
        "production/_files/lib/src/x.py",
        "production/_files/lib/src/sub/y.py",
    }
    assert b"".join(api.get(f"{FILES}?path=lib/src/sub/y.py").streaming_content) == b"Y"
    assert [e["fileName"] for e in api.get(f"{FILES}/directory").json()] == ["docs", "lib"]


def test_a_move_replaces_nothing_and_stays_out_of_itself(api):
    upload(api, "/a.txt", b"A")
    upload(api, "/b.txt", b"B")
    upload(api, "/dir/c.txt", b"C")
    assert_error(api.put(f"{FILES}?from=a.txt&to=b.txt"), 409, "conflict")
    assert_error(api.put(f"{FILES}?from=a.txt&to=dir"), 409, "conflict")
    assert_error(api.put(f"{FILES}?from=dir&to=dir/inner"), 400, "invalid_request")
    assert_error(api.put(f"{FILES}?from=a.txt&to=/a.txt"), 400, "invalid_request")
    assert_error(api.put(f"{FILES}?from=a.txt&to=b.txt/under"), 409, "conflict")
    assert_error(api.put(f"{FILES}?from=missing&to=elsewhere"), 404, "not_found")
    error = assert_error(api.put(f"{FILES}?from=a.txt"), 400, "invalid_request")
    assert error["details"]["field"] == "to"
    assert stored_keys() == {f"production/_files/{name}" for name in ("a.txt", "b.txt", "dir/c.txt")}


def test_a_file_cannot_stand_where_a_directory_is_or_under_a_file(api):
    upload(api, "/dir/c.txt")
    upload(api, "/plain.txt")
    assert_error(upload(api, "/dir"), 409, "conflict")
    assert_error(upload(api, "/plain.txt/inner.txt"), 409, "conflict")
    assert stored_keys() == {"production/_files/dir/c.txt", "production/_files/plain.txt"}


@pytest.mark.parametrize(
    "path",
    ["../escape.py", "a/../../escape.py", "/a/%2E%2E/b", "a%5Cb.py", "a%00b.py", "a%0Ab.py", "x" * 256, "/", ""],
    ids=["dotdot", "dotdot-inside", "encoded-dotdot", "backslash", "nul", "newline", "name-256", "root", "empty"],
)
def test_a_bad_path_is_400_and_nothing_is_written(api, path):
    error = assert_error(upload(api, path), 400, "invalid_request")
    assert error["details"]["field"] == "path"
    assert stored_keys() == set()
    assert_error(api.get(f"{FILES}?path={path}"), 400, "invalid_request")
    assert_error(api.delete(f"{FILES}?path={path}"), 400, "invalid_request")


def test_a_path_over_1024_characters_and_a_name_of_255(api):
    assert_error(upload(api, "/".join(["d" * 200] * 6)), 400, "invalid_request")
    assert upload(api, "n" * 255).status_code == 201


def test_a_path_too_long_for_a_storage_key_is_400_on_every_verb(api):
    """Under 1024 characters, but the stored name would pass S3's key limit: refused, not a 500."""
    long = "/".join(["l" * 200] * 5)  # 1004 characters
    assert_error(upload(api, long), 400, "invalid_request")
    assert_error(api.get(f"{FILES}?path={long}"), 400, "invalid_request")
    assert_error(api.delete(f"{FILES}?path={long}"), 400, "invalid_request")
    assert upload(api, "/a.txt").status_code == 201
    assert assert_error(api.put(f"{FILES}?from={long}&to=b.txt"), 400, "invalid_request")["details"]["field"] == "from"
    assert assert_error(api.put(f"{FILES}?from=a.txt&to={long}"), 400, "invalid_request")["details"]["field"] == "to"
    assert stored_keys() == {"production/_files/a.txt"}


def test_a_directory_whose_files_would_outgrow_a_storage_key_is_not_moved(api):
    deep = "/".join(["d" * 200] * 4)  # stored as a key of 831 bytes
    assert upload(api, f"/src/{deep}/f.txt").status_code == 201
    error = assert_error(api.put(f"{FILES}?from=/src&to=/{'t' * 100}"), 400, "invalid_request")
    assert error["details"]["field"] == "to"
    assert stored_keys() == {f"production/_files/src/{deep}/f.txt"}


def test_an_upload_over_the_file_cap_is_413_and_keeps_the_old_file(api, settings):
    settings.MILLRACE_MAX_FILE_BYTES = 100
    assert upload(api, "/f.bin", b"o" * 100).status_code == 201
    error = assert_error(upload(api, "/f.bin", b"n" * 101), 413, "payload_too_large")
    assert "100 bytes" in error["message"]
    assert_error(upload(api, "/new.bin", b"n" * 101), 413, "payload_too_large")
    assert stored_keys() == {"production/_files/f.bin"}
    assert b"".join(api.get(f"{FILES}?path=f.bin").streaming_content) == b"o" * 100


def test_the_body_cap_of_an_upload_is_the_file_cap(api, settings):
    """An upload may exceed MILLRACE_MAX_BODY_BYTES up to the file cap; other bodies may not."""
    settings.MILLRACE_MAX_BODY_BYTES = 1000
    settings.MILLRACE_MAX_FILE_BYTES = 200_000
    assert upload(api, "/big.bin", b"b" * 150_000).status_code == 201
    assert storage.size("production/_files/big.bin") == 150_000
    elsewhere = api.post(
        f"{API}/kv/production/k", {"fileContent": SimpleUploadedFile("k", b"b" * 5000)}, format="multipart"
    )
    assert_error(elsewhere, 413, "payload_too_large")
    over = assert_error(upload(api, "/huge.bin", b"h" * 300_000), 413, "payload_too_large")
    assert "exceeds" in over["message"]
    assert stored_keys() == {"production/_files/big.bin"}


def test_the_upload_needs_a_multipart_file_content_part(api):
    missing = api.post(f"{FILES}?path=/a.txt", {"other": SimpleUploadedFile("a", b"x")}, format="multipart")
    assert assert_error(missing, 422, "validation_error")["details"]["field"] == "fileContent"
    assert_error(api.post(f"{FILES}?path=/a.txt", {"fileContent": "x"}, format="json"), 415, "unsupported_media_type")
    assert stored_keys() == set()


@pytest.mark.parametrize(
    "parts",
    [
        {f"extra{i}": SimpleUploadedFile("e.txt", b"e") for i in range(101)},  # DATA_UPLOAD_MAX_NUMBER_FILES
        {f"field{i}": "x" for i in range(1001)},  # DATA_UPLOAD_MAX_NUMBER_FIELDS
    ],
    ids=["files", "fields"],
)
def test_an_upload_of_too_many_parts_is_400(api, parts):
    body = {**parts, "fileContent": SimpleUploadedFile("a.txt", b"A")}
    response = api.post(f"{FILES}?path=/a.txt", body, format="multipart")
    assert "exceeded" in assert_error(response, 400, "invalid_request")["message"]
    assert stored_keys() == set()


def test_viewers_read_and_only_editors_write(as_role, api):
    upload(api, "/a.txt", b"A")
    viewer, executor = as_role(Role.VIEWER), as_role(Role.EXECUTOR)
    assert viewer.get(f"{FILES}?path=a.txt").status_code == 200
    assert viewer.get(f"{FILES}/directory").status_code == 200
    assert viewer.get(f"{FILES}/stats?path=a.txt").status_code == 200
    for client in (viewer, executor):
        assert_error(upload(client, "/b.txt"), 403, "forbidden")
        assert_error(client.delete(f"{FILES}?path=a.txt"), 403, "forbidden")
        assert_error(client.put(f"{FILES}?from=a.txt&to=c.txt"), 403, "forbidden")
    assert stored_keys() == {"production/_files/a.txt"}
    assert AuditEntry.objects.filter(action="namespace_file.put").count() == 1


def test_anonymous_callers_are_401(client_for):
    assert_error(client_for(None).get(f"{FILES}/directory"), 401, "unauthorized")


def test_another_namespace_answers_like_a_missing_one(api, client_for, make_account):
    NamespaceFactory(name="elsewhere")
    owner = client_for(make_account(Role.EDITOR, namespace=NamespaceFactory(name="theirs")))
    assert upload(owner, "/secret.txt", b"S", namespace="theirs").status_code == 201
    for name in ("theirs", "never-made"):
        base = f"{API}/namespaces/{name}/files"
        responses = [
            api.get(f"{base}?path=secret.txt"),
            api.get(f"{base}/directory"),
            api.get(f"{base}/stats?path=secret.txt"),
            upload(api, "/mine.txt", namespace=name),
            api.delete(f"{base}?path=secret.txt"),
            api.put(f"{base}?from=secret.txt&to=x.txt"),
        ]
        for response in responses:
            assert assert_error(response, 404, "not_found")["message"] == f"Namespace '{name}' not found."
    assert stored_keys("theirs") == {"theirs/_files/secret.txt"}
    assert stored_keys() == set()


def test_the_prefixed_tree_serves_the_same_files(api):
    upload(api, "/a.txt", b"A")
    response = api.get("/workflowdev/api/v1/namespaces/production/files?path=a.txt")
    assert b"".join(response.streaming_content) == b"A"


def upload_scope(path: str) -> dict:
    return {**scope(path), "headers": [(b"host", b"testserver"), (b"content-type", b"multipart/form-data; boundary=x")]}


def test_under_asgi_an_upload_streams_through_to_the_file_cap_and_stops_past_it(settings):
    """The ASGI cap passes an upload on as it arrives (not held), up to the file cap."""
    settings.MILLRACE_MAX_BODY_BYTES = 1000
    settings.MILLRACE_MAX_FILE_BYTES = 3000
    seen: list[list[str]] = []

    async def app(scope_, receive, send) -> None:
        kinds, more = [], True
        while more:
            message = await receive()
            kinds.append(message["type"])
            more = message["type"] == "http.request" and message.get("more_body", False)
        seen.append(kinds)
        if kinds[-1] == "http.request":
            await send({"type": "http.response.start", "status": 201, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    within = Client([b"a" * 1000] * 3)
    drive(BodySizeLimit(app), upload_scope("/api/v1/namespaces/production/files"), within)
    assert within.response()[0] == 201 and seen[-1] == ["http.request"] * 3
    past = Client([b"a" * 40_000] * 3)  # the file cap plus the multipart room is 3000 + 64 KiB
    drive(BodySizeLimit(app), upload_scope("/workflowdev/api/v1/namespaces/production/files"), past)
    assert past.response()[0] == 413 and past.consumed == 2
    assert seen[-1] == ["http.request", "http.disconnect"]  # Django drops a request whose client left
    elsewhere = Client([b"a" * 1000] * 3)
    drive(BodySizeLimit(app), upload_scope("/api/v1/kv/production/k"), elsewhere)
    assert elsewhere.response()[0] == 413 and len(seen) == 2


def test_an_upload_without_a_content_length_is_refused_clearly(api):
    """Django reads no multipart body without a Content-Length (a chunked one): say so, not 'no part'."""
    body = b'--x\r\nContent-Disposition: form-data; name="fileContent"; filename="a"\r\n\r\nA\r\n--x--\r\n'
    response = api.generic(
        "POST", f"{FILES}?path=/a.txt", body, content_type="multipart/form-data; boundary=x", CONTENT_LENGTH=""
    )
    assert "Content-Length" in assert_error(response, 422, "validation_error")["message"]
    assert stored_keys() == set()
