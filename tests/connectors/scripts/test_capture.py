"""Bounded output capture: tails with a truncation marker, and Kestra's `::{"outputs": ...}::` lines."""

import json

from connectors.scripts.capture import TAIL_BYTES, VARS_LINE_BYTES, VARS_TOTAL_BYTES, Tail, VarsScanner


def test_a_short_stream_is_kept_whole():
    tail = Tail()
    tail.write(b"one\n")
    tail.write("två\n".encode())
    assert tail.text() == "one\ntvå\n"


def test_nul_characters_are_replaced_in_tails_and_vars():
    tail = Tail(limit=100)
    tail.write(b"a\x00b\n")
    assert tail.text() == "a\ufffdb\n"
    tail.write(b"\x00" * 200)
    assert "\x00" not in tail.text()
    scanner = VarsScanner()
    feed(scanner, '::{"outputs": {"k\\u0000": {"v": ["\\u0000"]}}}::\n')
    assert scanner.vars == {"k\ufffd": {"v": ["\ufffd"]}}


def test_a_long_stream_keeps_its_last_bytes_from_a_line_start_behind_a_marker():
    tail = Tail(limit=100)
    for number in range(1000):
        tail.write(f"line {number:04d}\n".encode())
    text = tail.text()
    marker, kept = text.split("\n", 1)
    assert marker.startswith("[... ") and marker.endswith(" bytes follow ...]")
    assert kept.startswith("line ") and kept.endswith("line 0999\n")
    assert len(text.encode()) <= 100  # the marker counts within the limit
    dropped = int(marker.split()[1])
    assert dropped + len(kept.encode()) == 10_000  # nothing counted twice, nothing lost from the count


def test_the_buffer_never_holds_much_more_than_its_limit():
    tail = Tail(limit=TAIL_BYTES)
    chunk = b"x" * 4096
    for _ in range(10_000):  # 40 MB written
        tail.write(chunk)
        assert len(tail._buffer) <= 2 * TAIL_BYTES + len(chunk)
    assert tail.total == 40_960_000


def test_one_endless_line_is_cut_where_it_must_be():
    tail = Tail(limit=100)
    tail.write(b"a" * 1000)
    text = tail.text()
    assert text == "[... 959 bytes truncated; the last 41 bytes follow ...]\n" + "a" * 41
    assert len(text) <= 100


def test_the_whole_text_stays_within_the_cap_at_any_length():
    for written in (TAIL_BYTES - 1, TAIL_BYTES, TAIL_BYTES + 1, 10 * TAIL_BYTES + 7):
        tail = Tail()
        tail.write(b"x" * written)
        text = tail.text()
        assert len(text.encode()) <= TAIL_BYTES
        assert text.endswith("x" * 1000)
        assert ("bytes truncated" in text) == (written > TAIL_BYTES)


def feed(scanner: VarsScanner, text: str, size: int = 7) -> None:
    """Feed in small chunks, so lines are split across writes."""
    data = text.encode()
    for start in range(0, len(data), size):
        scanner.write(data[start : start + size])
    scanner.close()


def test_outputs_lines_are_merged_later_keys_winning():
    scanner = VarsScanner()
    feed(
        scanner,
        'hello\n::{"outputs": {"a": 1, "b": [1, 2]}}::\n  ::{"outputs": {"b": "two"}}::  \r\n'
        'text ::{"outputs": {"c": 3}}:: inside a line\n::{"outputs": {"last": true}}::',
    )
    assert scanner.vars == {"a": 1, "b": "two", "last": True}
    assert scanner.error is None and scanner.problems == []


def test_malformed_announcements_are_skipped_with_a_note():
    scanner = VarsScanner()
    feed(scanner, '::{"outputs": [1]}::\n::{not json}::\n::{"outputs": NaN}::\n::{"other": 1}::\n')
    assert scanner.vars == {}
    assert len(scanner.problems) == 4
    assert "Line 2 of stdout is not valid JSON" in scanner.problems[1]
    assert "no 'outputs' object" in scanner.problems[3]


def test_too_many_malformed_lines_keep_a_bounded_list_of_problems():
    scanner = VarsScanner()
    feed(scanner, "::{bad}::\n" * 10_000, size=4096)
    assert len(scanner.problems) == 20


def test_an_announcement_over_the_line_limit_is_an_error_and_not_held():
    scanner = VarsScanner()
    scanner.write(b'::{"outputs": {"big": "')
    for _ in range(100):
        scanner.write(b"x" * 10_000)
        assert len(scanner._line) <= VARS_LINE_BYTES
    scanner.write(b'"}}::\n::{"outputs": {"small": 1}}::\n')
    assert scanner.error == f"Line 1 of stdout announces outputs in more than {VARS_LINE_BYTES} bytes."
    assert scanner.vars == {"small": 1}


def test_long_ordinary_lines_are_fine():
    scanner = VarsScanner()
    feed(scanner, "y" * (VARS_LINE_BYTES * 2) + '\n::{"outputs": {"ok": 1}}::\n', size=65536)
    assert scanner.error is None and scanner.vars == {"ok": 1}


def test_announcements_together_over_the_total_limit_are_an_error():
    scanner = VarsScanner()
    line = "::" + json.dumps({"outputs": {"k": "v" * 100_000}}) + "::\n"
    feed(scanner, line * (VARS_TOTAL_BYTES // 100_000 + 2), size=65536)
    assert scanner.error == f"The outputs announced on stdout add up to more than {VARS_TOTAL_BYTES} bytes."


def test_deeply_nested_outputs_are_refused_not_recursed():
    scanner = VarsScanner()
    feed(scanner, '::{"outputs": {"deep": ' + "[" * 5000 + "]" * 5000 + "}}::\n", size=65536)
    assert scanner.vars == {}
    assert "nests deeper" in scanner.problems[0]
