"""A forked process (django-q2's sentinel and workers) opens its own database connections and
leaves its parent's session alone, with or without the connection pool."""

import os

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def session_id() -> object:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()" if connection.vendor == "postgresql" else "SELECT 1")
        return cursor.fetchone()[0]


def test_a_forked_child_uses_a_session_of_its_own_and_the_parents_survives():
    parent = session_id()
    borrowed = connection.connection
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its session, then leave without running any cleanup
        try:
            fresh = connection.connection is None
            os.write(write, f"{fresh} {session_id()}".encode())
            connection.close()
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    fresh, child = os.read(read, 100).decode().split()
    os.close(read)

    assert fresh == "True"  # the inherited connection was forgotten, not used
    assert connection.connection is borrowed and session_id() == parent  # the parent's session works on
    if connection.vendor == "postgresql":
        assert int(child) != parent
