"""The size benchmark's bulk copy (bench/sizes.py): fresh ids, times moved back, NULLs kept."""

import sqlite3

from bench.sizes import Table


def test_copies_of_a_row_get_fresh_ids_and_earlier_times(tmp_path):
    path = tmp_path / "copy.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE runs (id char(32) PRIMARY KEY, name text, created_at datetime, finished_at datetime)")
        db.execute("INSERT INTO runs VALUES (lower(hex(randomblob(16))), 'x', '2026-12-07 10:00:00.000000', NULL)")
    table = Table({"MILLRACE_SQLITE_PATH": str(path)})
    table.BATCH = 3  # batches of three: the series continues across them
    try:
        template = table.connection.execute("SELECT id FROM runs").fetchone()[0]
        table.copy("runs", "id", template, 7, {"id": table.new_uuid()})
        rows = table.connection.execute("SELECT id, name, created_at, finished_at FROM runs").fetchall()
    finally:
        table.close()
    assert len(rows) == 8 and len({row[0] for row in rows}) == 8
    assert all(len(row[0]) == 32 and row[1] == "x" and row[3] is None for row in rows)
    created = sorted(row[2] for row in rows)
    assert created[0].startswith("2026-12-07 09:59:53") and created[-1].startswith("2026-12-07 10:00:00")
    assert len(set(created)) == 8
