"""`FileAdopter`: URIs of one execution's files become URIs of copies under another, each file
copied once; nothing of another execution or namespace is touched."""

import uuid

from core import storage
from executions.engine.file_copies import FileAdopter
from files.services import execution_file_put

SOURCE, TARGET, OTHER = (str(uuid.uuid4()) for _ in range(3))


def _put(namespace: str, execution_id: str, path: str, content: bytes) -> str:
    return execution_file_put(namespace_name=namespace, execution_id=execution_id, path=path, content=content)


def test_each_uri_of_the_source_names_a_copy_at_the_same_path(file_storage):
    uri = _put("production", SOURCE, "tasks/t1/a.csv", b"a,b")
    adopter = FileAdopter(namespace="production", source_id=SOURCE, target_id=TARGET)
    value = {"file": uri, "list": [uri, {"deep": uri}], "n": 3, "text": f"see {uri}", "none": None}
    copy = f"millrace:///production/executions/{TARGET}/tasks/t1/a.csv"
    assert adopter.adopt(value) == {
        "file": copy,
        "list": [copy, {"deep": copy}],
        "n": 3,
        "text": f"see {uri}",  # a URI inside a longer text is left as written
        "none": None,
    }
    assert storage.open_file(copy.removeprefix("millrace:///")).read() == b"a,b"
    assert storage.open_file(uri.removeprefix("millrace:///")).read() == b"a,b"  # the source stays


def test_copies_may_go_below_a_directory_of_their_own(file_storage):
    uri = _put("production", SOURCE, "inputs/data/in.csv", b"x")
    adopter = FileAdopter(namespace="production", source_id=SOURCE, target_id=TARGET, under=f"subflows/{SOURCE}")
    copy = adopter.adopt(uri)
    assert copy == f"millrace:///production/executions/{TARGET}/subflows/{SOURCE}/inputs/data/in.csv"
    assert storage.exists(copy.removeprefix("millrace:///"))


def test_a_file_is_copied_once_however_often_it_is_named(file_storage):
    uri = _put("production", SOURCE, "a.txt", b"first")
    adopter = FileAdopter(namespace="production", source_id=SOURCE, target_id=TARGET)
    copy = adopter.adopt(uri)
    storage.put(uri.removeprefix("millrace:///"), b"changed since")
    assert adopter.adopt([uri]) == [copy]
    assert storage.open_file(copy.removeprefix("millrace:///")).read() == b"first"


def test_a_missing_file_is_renamed_but_not_made(file_storage):
    adopter = FileAdopter(namespace="production", source_id=SOURCE, target_id=TARGET)
    copy = adopter.adopt(f"millrace:///production/executions/{SOURCE}/gone.txt")
    assert copy == f"millrace:///production/executions/{TARGET}/gone.txt"
    assert not list(storage.walk(f"production/executions/{TARGET}"))


def test_uris_of_other_executions_and_namespaces_are_left_alone(file_storage):
    sibling = _put("production", OTHER, "a.txt", b"s")
    foreign = _put("elsewhere", SOURCE, "a.txt", b"f")  # the same execution id, another namespace
    namespace_file = "millrace:///production/_files/a.txt"
    adopter = FileAdopter(namespace="production", source_id=SOURCE, target_id=TARGET)
    assert adopter.adopt([sibling, foreign, namespace_file]) == [sibling, foreign, namespace_file]
    assert not list(storage.walk(f"production/executions/{TARGET}"))
