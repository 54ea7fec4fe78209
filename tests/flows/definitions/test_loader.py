"""Safe YAML loading: limits, line numbers, refused constructs."""

import tracemalloc

import pytest

from flows.definitions import DefinitionError, YamlLimits, load_yaml
from flows.definitions.problems import SourceMap, format_path
from tests.flows.definitions.support import problems_of, yaml_text


def refused(source: str | bytes, limits: YamlLimits | None = None) -> tuple[str, int | None, str]:
    with pytest.raises(DefinitionError) as caught:
        load_yaml(source, limits or YamlLimits())
    assert len(caught.value.problems) == 1
    problem = caught.value.problems[0]
    return problem.code, problem.line, problem.message


def billion_laughs(levels: int, fan_out: int) -> str:
    """`lol<n>` is a list of `fan_out` aliases of `lol<n-1>`: fan_out**levels strings once expanded."""
    lines = ['lol0: &lol0 "lol"']
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*lol{level - 1}"] * fan_out)
        lines.append(f"lol{level}: &lol{level} [{aliases}]")
    return "\n".join(lines) + "\n"


def test_loads_data_and_the_line_of_every_path():
    loaded = load_yaml(
        yaml_text("""
            name: demo
            tasks:
              - name: a
                type: util.log
                properties:
                  message: hi
              - name: b
                type: util.echo
            """),
        YamlLimits(),
    )
    assert loaded.data["tasks"][1] == {"name": "b", "type": "util.echo"}
    lines = loaded.source_map
    assert lines.line(()) == 1
    assert lines.line(("tasks",)) == 2
    assert lines.line(("tasks", 0)) == 3
    assert lines.line(("tasks", 0, "properties", "message")) == 6
    assert lines.line(("tasks", 1, "type")) == 8
    # a path that is not written takes its nearest ancestor's line
    assert lines.line(("tasks", 1, "properties", "url")) == 7
    assert loaded.problems == []


def test_keys_in_paths_are_text_as_the_ir_uses_them():
    loaded = load_yaml("cases:\n  true: a\n  1: b\n", YamlLimits())
    assert loaded.source_map.line(("cases", "true")) == 2
    assert loaded.source_map.line(("cases", "1")) == 3


def test_timestamps_stay_strings_so_inputs_remain_json():
    loaded = load_yaml("when: 2026-03-25\nat: 2026-03-25T10:00:00Z\n", YamlLimits())
    assert loaded.data == {"when": "2026-03-25", "at": "2026-03-25T10:00:00Z"}


def test_merge_keys_work_and_merged_values_keep_their_own_line():
    loaded = load_yaml("base: &base\n  method: GET\nreq:\n  <<: *base\n  url: x\n", YamlLimits())
    assert loaded.data["req"] == {"method": "GET", "url": "x"}
    assert loaded.source_map.line(("req", "method")) == 2
    assert loaded.source_map.line(("req", "url")) == 5


def test_duplicate_keys_are_reported_with_their_line_but_do_not_stop_loading():
    loaded = load_yaml("a: 1\nb: 2\na: 3\n", YamlLimits())
    assert loaded.data == {"a": 3, "b": 2}
    assert [(p.path, p.line, p.code) for p in loaded.problems] == [("a", 3, "duplicate_key")]


def test_an_empty_document_loads_as_none():
    assert load_yaml("", YamlLimits()).data is None
    assert load_yaml("# only a comment\n", YamlLimits()).data is None


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("name: x\ntasks:\n  - name: a\n    type: util.log\n   bad: indentation\n", 5, "expected '-'"),
        ("name: x\ntasks: [a, b\nc: 1\n", 3, "expected ',' or ']'"),
        ("a: b: c\n", 1, "mapping values are not allowed"),
        ('x: 1\nname: "unterminated\n', 3, "unexpected end of stream"),
        ("a: 1\na: *nope\n", 2, "undefined alias"),
    ],
)
def test_a_syntax_error_names_its_line(source: str, line: int, words: str):
    code, found_line, message = refused(source)
    assert (code, found_line) == ("yaml_syntax", line)
    assert words in message


def test_python_tags_are_refused_by_the_safe_loader():
    code, line, message = refused("name: x\nrun: !!python/object/apply:os.system ['true']\n")
    assert (code, line) == ("yaml_syntax", 2)
    assert "python/object/apply" in message


@pytest.mark.parametrize("source", ["data: !!binary aGVsbG8=\n", "data: !!set {a, b}\n", "data: !!omap [a: 1]\n"])
def test_values_that_are_not_json_shaped_are_refused(source: str):
    code, line, message = refused(source)
    assert (code, line) == ("yaml_syntax", 1)
    assert "not allowed" in message


def test_several_documents_are_refused():
    code, line, message = refused("a: 1\n---\nb: 2\n")
    assert (code, line) == ("yaml_syntax", 2)
    assert "single document" in message


def test_oversize_document_is_refused_before_parsing():
    limits = YamlLimits(max_bytes=100)
    assert load_yaml("a: " + "x" * 90, limits).data == {"a": "x" * 90}
    code, _, message = refused("a: " + "x" * 100, limits)
    assert code == "too_large" and "100 bytes" in message
    # bytes are measured as given, and multi-byte characters count as bytes, not characters
    assert refused(b"a: " + b"x" * 100, limits)[0] == "too_large"
    assert refused("a: " + "\u00e9" * 50, limits)[0] == "too_large"


def test_size_limit_comes_from_settings(settings):
    settings.MILLRACE_YAML_MAX_BYTES = 64
    assert YamlLimits.from_settings().max_bytes == 64
    with pytest.raises(DefinitionError) as caught:
        load_yaml("message: " + "x" * 64)
    assert caught.value.problems[0].code == "too_large"


def test_default_size_limit_is_one_mebibyte(settings):
    del settings.MILLRACE_YAML_MAX_BYTES
    assert YamlLimits.from_settings().max_bytes == 1024 * 1024


def test_bytes_must_be_utf8():
    assert load_yaml("name: caf\u00e9\n".encode(), YamlLimits()).data == {"name": "caf\u00e9"}
    assert refused(b"name: \xff\xfe\n")[0] == "encoding"


def test_nesting_up_to_the_limit_loads_and_one_more_level_is_refused():
    limits = YamlLimits(max_depth=64)
    assert load_yaml("[" * 64 + "]" * 64, limits).data is not None
    code, line, _ = refused("[" * 65 + "]" * 65, limits)
    assert (code, line) == ("too_deep", 1)


def test_deep_block_nesting_names_the_line_where_it_goes_too_deep():
    source = "".join(f"{'  ' * level}k{level}:\n" for level in range(10)) + "  " * 10 + "leaf: 1\n"
    code, line, _ = refused(source, YamlLimits(max_depth=5))
    assert (code, line) == ("too_deep", 6)  # the sixth mapping starts at `k5:`


def test_absurd_nesting_is_refused_without_recursing():
    # 500k levels would overflow any recursive composer; the event pass stops at level 65.
    code, _, _ = refused("[" * 500_000, YamlLimits(max_bytes=1024 * 1024))
    assert code == "too_deep"


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("[" * 5_000, id="libyaml-scanner-flow-level"),
        pytest.param(
            "".join(" " * level + "k:\n" for level in range(1_200)) + "k: 1\n", id="libyaml-scanner-block-level"
        ),
        pytest.param("[" * 999 + "]" * 999, id="recursive-walk"),
    ],
)
def test_whichever_layer_stops_a_deep_document_it_is_too_deep(source):
    # The event pass is out of the way here (a huge max_depth): the parser's own limit or a
    # recursive layer stops the document first, and it is still `too_deep`, not a syntax error.
    code, _, message = refused(source, YamlLimits(max_depth=1_000_000))
    assert (code, message) == ("too_deep", "definition nests deeper than the YAML parser allows")


def test_the_parser_limit_reports_the_configured_depth_and_the_line():
    code, line, message = refused("a: 1\nb: " + "[" * 5_000 + "\n", YamlLimits())
    assert (code, line, message) == ("too_deep", 2, "definition nests deeper than 64 levels")


@pytest.mark.parametrize(
    "source",
    [
        "a:\n  b: " + "7" * 5_000 + "\n",  # int() refuses the text (ValueError)
        "a:\n  b: 0x" + "f" * 4_000 + "\n",  # hex converts, but has no decimal text
        "a:\n  b: 1" + ":30" * 100_000 + "\n",  # base 60: quadratic to build, refused by length
        "a:\n  b: [1, -" + "7" * 4_301 + "]\n",
    ],
)
def test_huge_integers_are_refused_with_path_and_line(source):
    with pytest.raises(DefinitionError) as caught:
        load_yaml(source, YamlLimits())
    [problem] = caught.value.problems
    assert (problem.code, problem.line, problem.message) == (
        "integer_too_large",
        2,
        "integer has more than 4300 digits",
    )
    assert problem.path.startswith("a.b")


def test_integers_up_to_the_limit_load():
    assert load_yaml("a: -" + "9" * 4_300 + "\n", YamlLimits()).data["a"] == -int("9" * 4_300)
    assert refused("? " + "1" * 4_301 + "\n: key\n")[0] == "integer_too_large"


@pytest.mark.parametrize("number", [".inf", "-.Inf", ".NaN", "1.0e+999", "-1.0e+400"])
def test_numbers_json_cannot_hold_are_refused_with_path_and_line(number):
    with pytest.raises(DefinitionError) as caught:
        load_yaml(f"a:\n  b: [1.5, {number}]\n", YamlLimits())
    [problem] = caught.value.problems
    assert (problem.code, problem.line) == ("number_not_finite", 2)
    assert problem.message == f"'{number}' is not a finite number" and problem.path == "a.b[1]"


def test_finite_floats_load():
    assert load_yaml("a: [1.5, -2.0e+10, 1.7976931348623157e+308]\n", YamlLimits()).data["a"][2] > 1e308


def test_more_aliases_than_allowed_are_refused():
    source = "a: &a 1\nlist:\n" + "".join("  - *a\n" for _ in range(101))
    code, line, message = refused(source, YamlLimits(max_aliases=100))
    assert (code, line) == ("too_many_aliases", 103)
    assert "100 aliases" in message
    assert len(load_yaml("a: &a 1\nlist: [" + ", ".join(["*a"] * 100) + "]\n", YamlLimits()).data["list"]) == 100


def test_billion_laughs_is_refused_with_bounded_memory():
    """The classic bomb (10 aliases x 9 levels = 90 aliases, 10**9 strings once expanded).

    It stays under the alias count, so the expanded-size check must refuse it. That check
    memoises sizes per node, so work and memory are those of the 10-line document itself:
    the peak of Python allocations stays tiny instead of the gigabytes an expansion needs.
    """
    source = billion_laughs(levels=9, fan_out=10)
    assert source.count("*") == 90
    tracemalloc.start()
    try:
        code, _, message = refused(source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == "expansion_too_large"
    assert "alias expansion" in message
    assert peak < 2 * 1024 * 1024


def test_a_narrow_deep_alias_bomb_is_refused_too():
    # 2 aliases per level, 60 levels: 120 aliases would be refused by count; use 45 levels (2**45).
    source = billion_laughs(levels=45, fan_out=2)
    assert refused(source)[0] == "expansion_too_large"
    # the same shape, small enough, loads: shared aliases are fine within the budget
    assert len(load_yaml(billion_laughs(levels=5, fan_out=2), YamlLimits()).data["lol5"]) == 2


def test_recursive_alias_is_refused():
    code, line, message = refused("a: &a\n  - x\n  - *a\n")
    assert (code, line) == ("recursive_alias", 1)
    assert "recursive" in message


def test_validate_definition_returns_loader_problems_instead_of_raising():
    problems = problems_of("name: x\ntasks: [a, b\nc: 1\n")
    assert [(p.path, p.line, p.code) for p in problems] == [("", 3, "yaml_syntax")]


def test_source_map_falls_back_to_ancestors_and_format_path_quotes_odd_keys():
    source_map = SourceMap({(): 1, ("a",): 2, ("a", 0): 3})
    assert source_map.line(("a", 0, "b", "c")) == 3
    assert source_map.line(("z",)) == 1
    assert SourceMap().line(("a",)) is None
    assert format_path(("tasks", 1, "properties", "url")) == "tasks[1].properties.url"
    assert format_path(("headers", "Content-Type")) == "headers.Content-Type"
    assert format_path(("params", "a.b", "c d")) == 'params["a.b"]["c d"]'
    assert format_path(()) == ""


def test_characters_yaml_forbids_name_their_line():
    code, line, message = refused("a: 1\nb: \x00\n")
    assert (code, line) == ("yaml_syntax", 2)
    assert "#x0000" in message


def test_text_that_cannot_be_utf8_is_refused():
    assert refused("a: \ud800\n")[0] == "encoding"


def test_the_public_entry_point_refuses_an_alias_bomb_as_a_problem():
    problems = problems_of(billion_laughs(levels=9, fan_out=10))
    assert [(p.path, p.code) for p in problems] == [("", "expansion_too_large")]
