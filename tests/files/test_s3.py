"""Stored files in an S3-compatible bucket: a real local S3 server (moto's), the storage
settings `MILLRACE_STORAGE_URL=s3://bucket/prefix` build, and the namespace files API, execution
files and retention over it. Also how a malformed storage URL stops the start."""

import json
import subprocess
import sys
from datetime import timedelta
from urllib.parse import urlencode

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from accounts.roles import Role
from core import storage
from executions.engine.retention import purge_executions
from executions.models import Execution, ExecutionStatus
from files.services import execution_file_put
from tests.config.test_settings import ROOT, assert_one_clear_line, clean_env, run
from tests.factories import ExecutionFactory, FlowFactory

BUCKET = "millrace-files"
FILES = "/api/v1/namespaces/production/files"
PRINT_STORAGE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps(settings.STORAGES['millrace']))"
)


def storage_settings(tmp_path, **env: str) -> dict:
    """STORAGES["millrace"] as config.settings builds it from this environment, in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", PRINT_STORAGE], cwd=ROOT, env=clean_env(tmp_path, **env), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def s3_storage(s3_endpoint, tmp_path_factory) -> dict:
    """STORAGES["millrace"] for `s3://millrace-files/tenant/files` on the local server."""
    url = f"s3://{BUCKET}/tenant/files"
    env = {"MILLRACE_STORAGE_URL": url, "MILLRACE_STORAGE_S3_ENDPOINT_URL": s3_endpoint}
    return storage_settings(tmp_path_factory.mktemp("settings"), **env)


@pytest.fixture
def bucket(s3_endpoint, s3_storage, settings, monkeypatch):
    """An empty bucket, and the "millrace" storage in it exactly as the settings configure it."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    existing = client.list_objects_v2(Bucket=BUCKET).get("Contents", []) if _has(client, BUCKET) else None
    if existing is None:
        client.create_bucket(Bucket=BUCKET)
    for item in existing or []:
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    settings.STORAGES = {**settings.STORAGES, "millrace": s3_storage}
    return client


def _has(client, name: str) -> bool:
    return any(each["Name"] == name for each in client.list_buckets()["Buckets"])


def keys(client) -> set[str]:
    return {item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def test_the_settings_build_an_s3_storage_from_the_url(tmp_path):
    found = storage_settings(
        tmp_path, MILLRACE_STORAGE_URL="s3://reports/a/b/", MILLRACE_STORAGE_S3_ENDPOINT_URL="http://s3.local:9000"
    )
    assert found["BACKEND"] == "storages.backends.s3.S3Storage"
    assert found["OPTIONS"] == {
        **found["OPTIONS"],
        "bucket_name": "reports",
        "location": "a/b",
        "endpoint_url": "http://s3.local:9000",
        "file_overwrite": True,
    }
    local = storage_settings(tmp_path, MILLRACE_STORAGE_DIR=str(tmp_path / "files"))
    assert local["BACKEND"].endswith("FileSystemStorage") and local["OPTIONS"]["location"] == str(tmp_path / "files")


@pytest.mark.parametrize(
    "url", ["ftp://bucket/prefix", "s3://", "s3:///prefix", "bucket/prefix"], ids=["ftp", "no-bucket", "empty", "bare"]
)
def test_a_malformed_storage_url_stops_the_start_with_one_line(tmp_path, url):
    assert_one_clear_line(run(tmp_path, "manage.py", "check", MILLRACE_STORAGE_URL=url), "MILLRACE_STORAGE_URL")


def test_namespace_files_round_trip_through_the_bucket(bucket, make_account, client_for):
    api = client_for(make_account(Role.EDITOR))
    for path, content in (("/etl/run.py", b"print(1)\n"), ("/etl/lib/util.py", b"u"), ("/readme.md", b"# hi")):
        response = api.post(
            f"{FILES}?path={path}", {"fileContent": SimpleUploadedFile("f", content)}, format="multipart"
        )
        assert response.status_code == 201, response.content
    assert keys(bucket) == {
        "tenant/files/production/_files/etl/run.py",
        "tenant/files/production/_files/etl/lib/util.py",
        "tenant/files/production/_files/readme.md",
    }
    listing = api.get(f"{FILES}/directory?path=/etl").json()
    assert [(e["type"], e["fileName"], e["size"]) for e in listing] == [("Directory", "lib", 0), ("File", "run.py", 9)]
    assert listing[1]["lastModifiedTime"] > 0
    assert api.get(f"{FILES}/stats?path=etl/lib").json()["type"] == "Directory"
    download = api.get(f"{FILES}?path=/etl/run.py")
    assert b"".join(download.streaming_content) == b"print(1)\n" and download["Content-Type"] == "text/x-python"
    assert api.put(f"{FILES}?from=/etl&to=/jobs/etl").status_code == 204
    assert api.put(f"{FILES}?from=/readme.md&to=/jobs/README.md").status_code == 204
    assert api.put(f"{FILES}?from=/jobs/README.md&to=/jobs/etl/run.py").status_code == 409
    assert [e["fileName"] for e in api.get(f"{FILES}/directory").json()] == ["jobs"]
    assert api.delete(f"{FILES}?path=/jobs/etl").status_code == 204
    assert keys(bucket) == {"tenant/files/production/_files/jobs/README.md"}
    assert api.delete(f"{FILES}?path=/jobs/README.md").status_code == 204
    assert api.get(f"{FILES}/directory").json() == [] and keys(bucket) == set()
    assert api.delete(f"{FILES}?path=/jobs").status_code == 404


def test_names_with_spaces_unicode_and_url_characters_are_kept_as_keys(bucket, make_account, client_for):
    """What a URL or S3 could read otherwise (`?`, `#`, `+`, `%20`, spaces, non-ASCII) stays the name."""
    api = client_for(make_account(Role.EDITOR))
    paths = ["/my docs/résumé 😀.txt", "/q?.txt", "/hash#.txt", "/x+y=z&.txt", "/pct%20.txt"]
    for path in paths:
        query = urlencode({"path": path})
        upload = {"fileContent": SimpleUploadedFile("f", path.encode())}
        assert api.post(f"{FILES}?{query}", upload, format="multipart").status_code == 201
        assert b"".join(api.get(f"{FILES}?{query}").streaming_content) == path.encode()
    assert keys(bucket) == {f"tenant/files/production/_files{path}" for path in paths}
    assert [e["fileName"] for e in api.get(f"{FILES}/directory", {"path": "my docs"}).json()] == ["résumé 😀.txt"]


def test_an_upload_over_the_cap_leaves_nothing_in_the_bucket(bucket, settings, make_account, client_for):
    settings.MILLRACE_MAX_FILE_BYTES = 10
    api = client_for(make_account(Role.EDITOR))
    upload = {"fileContent": SimpleUploadedFile("f", b"x" * 11)}
    assert api.post(f"{FILES}?path=/big.bin", upload, format="multipart").status_code == 413
    assert keys(bucket) == set()


def test_execution_files_go_with_their_execution_and_with_retention(
    bucket, namespace, django_capture_on_commit_callbacks
):
    def with_file() -> Execution:
        execution = ExecutionFactory(flow=FlowFactory(namespace=namespace), status=ExecutionStatus.SUCCESS)
        execution_file_put(
            namespace_name="production", execution_id=str(execution.pk), path="outputs/a.txt", content=b"a"
        )
        return execution

    deleted, purged, kept = with_file(), with_file(), with_file()
    assert len(keys(bucket)) == 3
    with django_capture_on_commit_callbacks(execute=True):
        deleted.delete()
    assert keys(bucket) == {f"tenant/files/production/executions/{e.pk}/outputs/a.txt" for e in (purged, kept)}
    old = timezone.now() - timedelta(days=60)
    Execution.objects.filter(pk=purged.pk).update(created_at=old, finished_at=old)
    with django_capture_on_commit_callbacks(execute=True):
        assert purge_executions(cutoff=timezone.now() - timedelta(days=30)).executions == 1
    assert keys(bucket) == {f"tenant/files/production/executions/{kept.pk}/outputs/a.txt"}
    assert storage.open_file(f"production/executions/{kept.pk}/outputs/a.txt").read() == b"a"


def test_a_listing_is_one_request_with_each_files_size_and_date(bucket):
    """The LIST answer carries every object's size and date; nothing is asked per file."""
    for name, content in (("a.txt", b"a"), ("b.csv", b"bb"), ("sub/c.txt", b"ccc")):
        storage.put(f"production/_files/dir/{name}", content)
    bucket.put_object(Bucket=BUCKET, Key="elsewhere/production/_files/dir/x.txt", Body=b"not under the prefix")
    requests: list[str] = []
    events = storage.backend().connection.meta.client.meta.events
    events.register("before-send.s3", lambda request, **kwargs: requests.append(request.method))
    before = timezone.now() - timedelta(minutes=5)
    entries = storage.listing("production/_files/dir")
    assert requests == ["GET"]
    assert [(entry.name, entry.is_dir, entry.size) for entry in entries] == [
        ("sub", True, None),
        ("a.txt", False, 1),
        ("b.csv", False, 2),
    ]
    assert all(before < entry.modified <= timezone.now() for entry in entries if not entry.is_dir)
    assert storage.listing("production/_files/none") == [] and storage.listing("production/_files/dir/a") == []
    assert sorted(storage.walk("production/_files")) == [
        f"production/_files/dir/{name}" for name in ("a.txt", "b.csv", "sub/c.txt")
    ]
