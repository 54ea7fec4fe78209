"""script.python and script.shell: properties, outputs, files, vars, interpreters and failures."""

import os
import sys
import time

import pytest
import yaml
from jsonschema import Draft202012Validator

from connectors.registry import ResultStatus, get_plugin
from core import storage
from core.filerefs import namespace_file_key
from tests.connectors.conftest import FakeContext


def succeeded(result):
    assert result.status == ResultStatus.SUCCESS, result.error
    return result.outputs


def test_a_python_script_reports_exit_code_output_and_vars(run_plugin):
    script = "\n".join(
        [
            "import json, sys",
            "print('working')",
            "print('::' + json.dumps({'outputs': {'count': 3, 'name': 'a'}}) + '::')",
            "print('::' + json.dumps({'outputs': {'name': 'b'}}) + '::')",
            "print('careful', file=sys.stderr)",
        ]
    )
    outputs = succeeded(run_plugin("script.python", {"script": script}))
    assert outputs == {
        "exitCode": 0,
        "stdout": 'working\n::{"outputs": {"count": 3, "name": "a"}}::\n::{"outputs": {"name": "b"}}::\n',
        "stderr": "careful\n",
        "vars": {"count": 3, "name": "b"},
        "outputFiles": {},
    }


def test_a_python_script_imports_from_its_working_directory_and_keeps_its_line_numbers(run_plugin):
    inputs = {
        "inputFiles": {"helpers/maths.py": "def double(x):\n    return 2 * x\n"},
        "script": "import sys\nfrom helpers.maths import double\n"
        "print(double(21), sys.argv[0].endswith('.py'), __name__)\n"
        "raise SystemExit(f'line {sys._getframe().f_lineno}')",
    }
    result = run_plugin("script.python", inputs)
    assert result.outputs["stdout"] == "42 True __main__\n"
    assert result.outputs["stderr"] == "line 4\n"


def test_python_defaults_to_millraces_own_interpreter_and_its_packages(run_plugin):
    outputs = succeeded(run_plugin("script.python", {"script": "import django, sys\nprint(sys.executable)"}))
    assert outputs["stdout"] == f"{sys.executable}\n"


def test_another_interpreter_can_be_given_as_a_path(run_plugin):
    base = os.path.realpath(sys.executable)  # the Python the venv was made from: no venv packages
    outputs = succeeded(run_plugin("script.python", {"script": "import sys\nprint(sys.prefix)", "interpreter": base}))
    assert outputs["stdout"].strip() != sys.prefix


def test_an_interpreter_can_be_a_list_with_arguments_or_a_name_on_path(run_plugin):
    bash = {"commands": ["echo $BASH_VERSION", "false", "echo after"], "interpreter": ["bash", "+e"]}
    assert succeeded(run_plugin("script.shell", {**bash, "failFast": False}))["stdout"].endswith("\nafter\n")
    strict = run_plugin("script.shell", {"commands": ["x=$undefined"], "interpreter": ["/bin/bash", "-u"]})
    assert strict.status == ResultStatus.FAILED and "undefined: unbound variable" in strict.error


@pytest.mark.parametrize(
    ("interpreter", "message"),
    [
        ("/nope/python", "The interpreter '/nope/python' is not an executable file."),
        ("/etc/passwd", "The interpreter '/etc/passwd' is not an executable file."),
        ("no-such-python", "The interpreter 'no-such-python' was not found on PATH."),
        ("bin/python", "The interpreter 'bin/python' must be an absolute path or a program name on PATH."),
    ],
)
def test_an_interpreter_that_cannot_run_fails_clearly(run_plugin, interpreter, message):
    result = run_plugin("script.python", {"script": "print(1)", "interpreter": interpreter})
    assert (result.status, result.error, result.error_code) == (ResultStatus.FAILED, message, "SCRIPT_ERROR")


def test_shell_commands_stop_at_the_first_failure_by_default(run_plugin):
    result = run_plugin("script.shell", {"commands": ["echo one", "echo oops >&2; exit 7", "echo three"]})
    assert result.status == ResultStatus.FAILED and result.error_code == "SCRIPT_FAILED"
    assert result.error == "The script exited with code 7.\nstderr:\noops"
    assert result.outputs["stdout"] == "one\n" and result.outputs["exitCode"] == 7


def test_without_fail_fast_every_command_runs(run_plugin):
    result = run_plugin("script.shell", {"commands": ["false", "echo still here"], "failFast": False})
    assert succeeded(result)["stdout"] == "still here\n"


def test_a_shell_script_text_runs_too(run_plugin):
    script = 'for name in a b; do\n  echo "::{\\"outputs\\": {\\"$name\\": 1}}::"\ndone'
    assert succeeded(run_plugin("script.shell", {"script": script}))["vars"] == {"a": 1, "b": 1}


def test_a_long_stderr_is_cut_in_the_error_but_kept_in_the_output(run_plugin):
    script = "import sys\nfor n in range(2000):\n    print('problem', n, file=sys.stderr)\nsys.exit(2)"
    result = run_plugin("script.python", {"script": script})
    assert result.error.startswith("The script exited with code 2.\nstderr:\n...problem ")
    assert result.error.endswith("problem 1999") and len(result.error) < 4200
    assert result.outputs["stderr"].startswith("problem 0\n")


def test_env_values_that_are_numbers_or_booleans_reach_the_script_as_text(run_plugin):
    env = {"COUNT": 3, "RATIO": 0.5, "DEBUG": True, "OFF": False, "BIG": 10**22, "NAME": "x"}
    script = f"import os\nprint(' '.join(os.environ[name] for name in {tuple(env)!r}))"
    assert succeeded(run_plugin("script.python", {"script": script, "env": env}))["stdout"] == (
        "3 0.5 true false 10000000000000000000000 x\n"
    )


@pytest.mark.parametrize("timeout", [1, 0.8, "1", "PT1S", "PT0.8S"])
def test_the_timeout_property_stops_the_script(run_plugin, timeout):
    started = time.monotonic()
    result = run_plugin("script.shell", {"commands": ["echo started", "sleep 30"], "timeout": timeout})
    assert time.monotonic() - started < 5
    assert result.status == ResultStatus.FAILED and result.error_code == "SCRIPT_STOPPED"
    assert result.error.startswith("The script was stopped: it ran past its time limit of ")
    assert result.outputs["stdout"] == "started\n" and result.outputs["exitCode"] == -9


def test_the_sooner_of_the_task_deadline_and_the_timeout_property_wins(run_plugin):
    early = FakeContext(deadline=time.monotonic() + 0.5)
    result = run_plugin("script.shell", {"commands": ["sleep 30"], "timeout": "PT1M"}, early)
    assert "time limit of 0.5 seconds" in result.error
    late = FakeContext(deadline=time.monotonic() + 60)
    result = run_plugin("script.shell", {"commands": ["sleep 30"], "timeout": 0.5}, late)
    assert "time limit of 0.5 seconds" in result.error


@pytest.mark.parametrize(
    ("timeout", "message"), [("soon", "timeout: 'soon' is not a duration"), ("PT0S", "more than 0 seconds")]
)
def test_a_timeout_that_is_no_duration_fails_clearly(run_plugin, timeout, message):
    result = run_plugin("script.shell", {"commands": ["true"], "timeout": timeout})
    assert result.status == ResultStatus.FAILED and result.error_code == "SCRIPT_ERROR"
    assert message in result.error


def test_input_files_are_written_from_text_and_from_stored_files(run_plugin, ctx):
    uri = ctx.file_write("report.csv", b"a,b\n1,2\n")
    inputs = {
        "inputFiles": {"conf/settings.json": '{"x": 1}', "/data/in.csv": uri},
        "commands": ["cat conf/settings.json", "cat data/in.csv"],
    }
    assert succeeded(run_plugin("script.shell", inputs))["stdout"] == '{"x": 1}a,b\n1,2\n'


def test_input_file_contents_that_are_not_text_are_written_as_json(run_plugin):
    files = {"rows.json": [{"id": 1, "name": "é"}], "count.txt": 3, "flag": True}
    inputs = {"inputFiles": files, "commands": ["cat rows.json; echo; cat count.txt; echo; cat flag"]}
    assert succeeded(run_plugin("script.shell", inputs))["stdout"] == '[{"id": 1, "name": "é"}]\n3\ntrue'


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"../up.txt": "x"}, "Input file '../up.txt': A file path may not contain '..'."),
        ({"a.txt": "millrace:///production/executions/nope/a.txt"}, "Input file 'a.txt': the stored file it names"),
        ({"a.txt": "millrace:///elsewhere/_files/a.txt"}, "Input file 'a.txt': the stored file it names"),
        ({"a.txt": "millrace:///production/../x"}, "Input file 'a.txt': A file path may not contain '..'."),
    ],
)
def test_bad_input_files_fail_clearly(run_plugin, files, message):
    result = run_plugin("script.shell", {"commands": ["true"], "inputFiles": files})
    assert result.status == ResultStatus.FAILED and result.error_code == "SCRIPT_ERROR"
    assert result.error.startswith(message)


@pytest.fixture
def namespace_files():
    for path, content in {
        "scripts/main.py": "from helpers.lib import VALUE\nprint(VALUE)",
        "helpers/lib.py": "VALUE = 42",
        "helpers/notes.md": "notes",
        "other.txt": "other",
    }.items():
        storage.put(namespace_file_key("production", path), content)
    yield
    storage.delete_prefix("production/_files")


@pytest.mark.usefixtures("namespace_files")
def test_namespace_files_are_copied_in_at_their_paths(run_plugin):
    inputs = {
        "namespaceFiles": {"include": ["scripts/**", "helpers/**"], "exclude": ["**.md"]},
        "env": {"PYTHONPATH": "."},
        "commands": ["find . -type f | sort", "python scripts/main.py"],
    }
    assert succeeded(run_plugin("script.shell", inputs))["stdout"] == "./helpers/lib.py\n./scripts/main.py\n42\n"


@pytest.mark.usefixtures("namespace_files")
def test_namespace_file_globs_may_not_climb_out(run_plugin):
    for spec in ({"include": ["../**"]}, {"include": ["a/../../b"]}, {"exclude": [".."]}):
        result = run_plugin("script.shell", {"commands": ["true"], "namespaceFiles": spec})
        assert result.status == ResultStatus.FAILED and result.error_code == "SCRIPT_ERROR"
        assert result.error.startswith("namespaceFiles: '") and "(no '..')" in result.error


@pytest.mark.usefixtures("namespace_files")
def test_namespace_files_need_the_block_and_input_files_win(run_plugin):
    listing = {"commands": ["find . -type f | sort"]}
    assert succeeded(run_plugin("script.shell", listing))["stdout"] == ""
    off = {**listing, "namespaceFiles": {"enabled": False}}
    assert succeeded(run_plugin("script.shell", off))["stdout"] == ""
    everything = {"namespaceFiles": {}, "inputFiles": {"other.txt": "mine"}, "commands": ["cat other.txt"]}
    assert succeeded(run_plugin("script.shell", everything))["stdout"] == "mine"


def test_output_files_are_stored_and_listed_by_path(run_plugin, ctx):
    script = "import os\nos.makedirs('out')\nopen('out/a.csv', 'w').write('x,y')\nopen('b.txt', 'w').write('b')"
    outputs = succeeded(run_plugin("script.python", {"script": script, "outputFiles": ["out/*.csv", "*.txt"]}))
    assert set(outputs["outputFiles"]) == {"out/a.csv", "b.txt"}
    with ctx.file_open(outputs["outputFiles"]["out/a.csv"]) as stored:
        assert stored.read() == b"x,y"


def test_output_files_of_a_failed_script_are_not_kept(run_plugin):
    result = run_plugin("script.shell", {"commands": ["echo x > a.txt", "exit 1"], "outputFiles": ["*.txt"]})
    assert result.status == ResultStatus.FAILED and result.outputs["outputFiles"] == {}


@pytest.mark.parametrize(
    ("commands", "globs", "message"),
    [
        (["ln -s /etc/passwd out.txt"], ["*.txt"], "Output file 'out.txt' points outside the working directory"),
        (["ln -s .. up", "true"], ["up/**", "up"], "Output file 'up' points outside the working directory"),
        (["echo x > a.txt"], ["../*.txt"], "outputFiles: '../*.txt' must be a glob inside the working directory"),
        (["head -c 100 /dev/zero > big.bin"], ["*.bin"], "Output file 'big.bin' is 100 bytes, over the limit of 10"),
    ],
)
def test_unsafe_or_oversize_output_files_are_refused(run_plugin, settings, commands, globs, message):
    settings.MILLRACE_MAX_FILE_BYTES = 10
    result = run_plugin("script.shell", {"commands": commands, "outputFiles": globs})
    assert result.status == ResultStatus.FAILED and result.error_code in ("SCRIPT_ERROR", "SCRIPT_OUTPUTS")
    assert result.error.startswith(message)


def test_a_refused_output_file_keeps_the_other_outputs_and_stores_no_file(run_plugin, ctx):
    commands = ["echo kept > a.txt", "ln -s /etc/passwd b.txt", 'echo \'::{"outputs": {"n": 1}}::\'']
    result = run_plugin("script.shell", {"commands": commands, "outputFiles": ["*.txt"]}, ctx)
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "SCRIPT_OUTPUTS")
    assert result.error == "Output file 'b.txt' points outside the working directory; it was refused."
    assert result.outputs["exitCode"] == 0 and result.outputs["vars"] == {"n": 1}
    assert result.outputs["outputFiles"] == {} and list(storage.walk(ctx.write_prefix)) == []


def test_outside_a_flow_output_files_cannot_be_stored(run_plugin):
    proxy = FakeContext(write_prefix=None)
    result = run_plugin("script.shell", {"commands": ["touch a.txt"], "outputFiles": ["a.txt"]}, proxy)
    assert result.error == "Output file 'a.txt' cannot be stored: Files can only be written by a flow's tasks."
    assert succeeded(run_plugin("script.shell", {"commands": ["echo fine"]}, proxy))["stdout"] == "fine\n"


def test_announced_outputs_over_the_limit_fail_the_step(run_plugin):
    script = (
        "import json\nfor n in range(20):\n    print('::' + json.dumps({'outputs': {str(n): 'v' * 100_000}}) + '::')"
    )
    result = run_plugin("script.python", {"script": script})
    assert result.status == ResultStatus.FAILED and result.error_code == "SCRIPT_OUTPUTS"
    assert result.error == "The outputs announced on stdout add up to more than 1048576 bytes."
    assert result.outputs["vars"] == {}


def test_malformed_announcements_are_logged_as_warnings(run_plugin, ctx):
    result = run_plugin("script.shell", {"commands": ["echo '::{oops}::'"]}, ctx)
    assert succeeded(result)["vars"] == {}
    assert ("warn", "Line 1 of stdout is not valid JSON (Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)); it was ignored.", {}) in ctx.logs  # fmt: skip


def test_scripts_can_be_turned_off(run_plugin, settings):
    settings.MILLRACE_SCRIPTS_ENABLED = False
    result = run_plugin("script.python", {"script": "open('/tmp/should-not-run', 'w')"})
    assert (result.status, result.error_code) == (ResultStatus.FAILED, "SCRIPTS_DISABLED")
    assert result.error == "Script tasks are turned off on this server (MILLRACE_SCRIPTS_ENABLED=False)."


def test_kestra_types_are_aliases_and_container_settings_are_ignored_with_a_warning(run_plugin, ctx):
    for alias in ("io.kestra.plugin.scripts.python.Script",):
        assert get_plugin(alias) is get_plugin("script.python")
    for alias in (
        "io.kestra.plugin.scripts.shell.Commands",
        "io.kestra.plugin.scripts.shell.Script",
        "io.kestra.plugin.scripts.python.Commands",
    ):
        assert get_plugin(alias) is get_plugin("script.shell")
    inputs = {"commands": ["python -c 'print(6 * 7)'"], "containerImage": "python:3.12-slim"}
    assert succeeded(run_plugin("io.kestra.plugin.scripts.python.Commands", inputs, ctx))["stdout"] == "42\n"
    assert ("warn", "'containerImage' is ignored: scripts run as processes of the worker here.", {}) in ctx.logs


@pytest.mark.parametrize("plugin_id", ["script.python", "script.shell"])
def test_the_example_is_a_valid_task_and_the_schemas_are_valid(plugin_id):
    plugin = get_plugin(plugin_id)
    (task,) = yaml.safe_load(plugin.example)
    assert task["type"] == plugin_id
    plugin.check_inputs(task["properties"])
    Draft202012Validator.check_schema(plugin.input_schema)
    Draft202012Validator.check_schema(plugin.output_schema)
    assert plugin.documentation and plugin.category == "script"


def test_the_examples_run(run_plugin):
    storage.put(namespace_file_key("production", "data/a.csv"), "x\n1\n2\n")
    try:
        shell = succeeded(
            run_plugin("script.shell", yaml.safe_load(get_plugin("script.shell").example)[0]["properties"])
        )
    finally:
        storage.delete_prefix("production/_files")
    assert shell["vars"] == {"files": 1} and set(shell["outputFiles"]) == {"counts.txt"}
    python = succeeded(
        run_plugin("script.python", yaml.safe_load(get_plugin("script.python").example)[0]["properties"])
    )
    assert python["vars"] == {"total": 16} and set(python["outputFiles"]) == {"summary.txt"}
