"""The lock file installs what pyproject.toml asks for, pinned and hashed, and `make` installs from it."""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK = (ROOT / "requirements.lock").read_text()

#: Libraries whose private names the code uses (tests/core/test_library_contracts.py): a new
#: major release must be a deliberate upgrade, not what a fresh install happens to get.
PRIVATE_NAMES_USED = (
    "django",
    "djangorestframework",
    "channels",
    "channels-redis",
    "psycopg",
    "psycopg-pool",
    "jinja2",
    "pyyaml",
)


def requirements() -> list[Requirement]:
    project = PYPROJECT["project"]
    return [Requirement(text) for text in project["dependencies"] + project["optional-dependencies"]["dev"]]


def locked() -> dict[str, list[tuple[str, str]]]:
    """name → [(version, marker)], from `name==version ; marker \\` lines."""
    pins: dict[str, list[tuple[str, str]]] = {}
    for name, version, marker in re.findall(r"^([A-Za-z0-9][\w.\-]*)==(\S+)(?: ; ([^\\\n]+))?", LOCK, re.MULTILINE):
        pins.setdefault(canonicalize_name(name), []).append((version, marker.strip()))
    return pins


@pytest.mark.parametrize("requirement", requirements(), ids=str)
def test_every_requirement_is_pinned_within_its_range(requirement):
    pins = locked().get(canonicalize_name(requirement.name))
    assert pins, f"{requirement.name} is missing from requirements.lock: run `make lock`"
    for version, _ in pins:
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {requirement.name}=={version} outside {requirement.specifier}: run `make lock`"
        )


def test_every_pin_carries_its_hashes():
    blocks = re.split(r"\n(?=[A-Za-z0-9])", LOCK.split("\n", 2)[-1])
    unhashed = [block.split()[0] for block in blocks if block.strip() and "--hash=sha256:" not in block]
    assert not unhashed


def test_this_interpreter_gets_one_version_of_each_library():
    environment = default_environment()
    for name, pins in locked().items():
        applicable = [version for version, marker in pins if not marker or Marker(marker).evaluate(environment)]
        assert len(applicable) <= 1, (name, applicable)


@pytest.mark.parametrize("name", PRIVATE_NAMES_USED)
def test_libraries_whose_private_names_we_use_are_capped_below_their_next_major(name):
    [requirement] = [r for r in requirements() if canonicalize_name(r.name) == name]
    assert any(spec.operator == "<" for spec in requirement.specifier), f"{name} needs an upper bound in pyproject"


def test_make_installs_from_the_lock_with_hashes_checked():
    makefile = (ROOT / "Makefile").read_text()
    assert "$(VENV)/.installed: $(LOCK)" in makefile and "LOCK := requirements.lock" in makefile
    assert "--require-hashes -r $(LOCK)" in makefile
