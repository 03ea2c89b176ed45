"""Helpers of the packaging and deployment tests: what a setting's environment variable names,
and a Dockerfile read as its stages, so that the image and the compose file are checked
without a container runtime."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from gateway.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
PREFIX = "ORDERGATE_"
NESTED = "__"


def setting_of(variable: str) -> list[str]:
    """The path of the setting an ``ORDERGATE_*`` variable sets (``ORDERGATE_FEED__PUBLIC_URL``:
    ``["feed", "public_url"]``), walking ``Settings.model_fields`` and the sections nested in
    it the way pydantic-settings does; a ``KeyError`` names a variable no setting reads (it
    would be ignored, silently: ``extra="ignore"``)."""
    if not variable.startswith(PREFIX):
        raise KeyError(f"{variable}: not an {PREFIX}* variable")
    path = variable.removeprefix(PREFIX).lower().split(NESTED)
    model: type[BaseModel] = Settings
    for depth, name in enumerate(path):
        fields = model.model_fields
        if name not in fields:
            raise KeyError(f"{variable}: {model.__name__} has no setting {name!r}")
        annotation: Any = fields[name].annotation
        last = depth == len(path) - 1
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif not last:
            raise KeyError(f"{variable}: {name!r} is a value, not a section")
    return path


@dataclass
class Stage:
    """One ``FROM`` of a Dockerfile and the instructions under it (continuations joined)."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args_of(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    @property
    def env(self) -> dict[str, str]:
        """Every ``ENV name=value`` of the stage (the ``name=value`` form only)."""
        values: dict[str, str] = {}
        for args in self.args_of("ENV"):
            for word in shlex.split(args):
                name, _, value = word.partition("=")
                values[name] = value
        return values

    @property
    def text(self) -> str:
        return "\n".join(f"{kw} {args}" for kw, args in self.instructions)


def dockerfile_stages(path: Path) -> list[Stage]:
    """The stages of a Dockerfile, in order."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), re.sub(r"\s+", " ", args.strip())
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif stages:
            stages[-1].instructions.append((keyword, args))
    return stages


def compose_services() -> dict[str, dict[str, Any]]:
    """deploy/compose.yaml's services, YAML anchors and merge keys resolved as compose does."""
    services: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    return services


def compose_environment(service: str) -> dict[str, str]:
    """A compose service's environment as its container sees it (mapping or list form)."""
    env = compose_services()[service].get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: str(value) for name, value in env.items()}
