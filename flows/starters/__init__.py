"""Starter blueprints a new flow can begin from: a few small flows per definition format.

Each is a YAML file `<format>/<slug>.yaml` beside this module; the console's add page offers
them (`?starter=<format>/<slug>`) and a test checks that every one validates.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

FOLDER = Path(__file__).resolve().parent
#: The formats in the order the chooser shows them, with the words it uses.
FORMATS = {"tasks": "Tasks (workflowdev)", "nodes": "Nodes (FlowRunner)", "kestra": "Kestra"}
#: The blueprints of every format, in the chooser's order, with their titles.
TITLES = {
    "hello": "Hello world",
    "http-if": "HTTP request, then a branch",
    "schedule": "On a schedule",
    "approval": "Wait for an approval",
    "script": "Python script",
}


@dataclass(frozen=True)
class Starter:
    format: str
    slug: str
    title: str
    name: str  # the flow name the YAML declares
    description: str
    source: str

    @property
    def key(self) -> str:
        return f"{self.format}/{self.slug}"


def _starter(kind: str, slug: str) -> Starter:
    source = (FOLDER / kind / f"{slug}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(source)
    meta = data.get("metadata", data)  # the nodes format keeps them under `metadata`
    name = str(meta.get("name") or data.get("id") or slug)
    return Starter(kind, slug, TITLES[slug], name, str(meta.get("description", "")), source)


@cache
def all_starters() -> tuple[Starter, ...]:
    """Every starter, by format then in TITLES order."""
    return tuple(_starter(kind, slug) for kind in FORMATS for slug in TITLES)


def starter_get(key: str) -> Starter | None:
    """The starter `<format>/<slug>`, or None for any other text."""
    return next((starter for starter in all_starters() if starter.key == key), None)
