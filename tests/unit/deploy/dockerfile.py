"""A small Dockerfile reader: stages, their instructions, and the runtime image's pip installs."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tests.unit.deploy.manifests import ROOT

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.args for i in self.instructions if i.keyword == keyword]


@dataclass
class Dockerfile:
    args: dict[str, str]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    def resolve(self, text: str) -> str:
        """Substitute global ARG defaults (${NAME} or $NAME)."""
        return re.sub(r"\$\{?(\w+)\}?", lambda m: self.args.get(m[1], m[0]), text)

    def is_stage(self, name: str) -> bool:
        return any(s.name == name for s in self.stages)

    def lineage(self, stage: Stage) -> list[Stage]:
        """`stage` and every stage it builds on (FROM NAME, ARGs resolved) or copies from
        (COPY --from=NAME), dependencies first."""
        deps = [m[1] for args in stage.all("COPY") if (m := re.search(r"--from=(\S+)", args))]
        base = self.resolve(stage.base)
        if self.is_stage(base):
            deps.insert(0, base)
        seen: list[Stage] = []
        for name in deps:
            for dep in self.lineage(self.stage(name)):
                if dep not in seen:
                    seen.append(dep)
        return [*seen, stage]

    def with_args(self, **args: str) -> Dockerfile:
        """The same file built with `--build-arg NAME=VALUE` for each of `args`."""
        return Dockerfile(args={**self.args, **args}, stages=self.stages)


def parse(path: Path = DOCKERFILE) -> Dockerfile:
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    dockerfile = Dockerfile(args={}, stages=[])
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            dockerfile.stages.append(Stage(base=words[0], name=name))
        elif not dockerfile.stages and keyword == "ARG":
            key, _, default = args.partition("=")
            dockerfile.args[key.strip()] = default.strip()
        elif dockerfile.stages:
            dockerfile.stages[-1].instructions.append(Instruction(keyword, args.strip()))
    return dockerfile


def pip_installs(stage: Stage) -> list[list[str]]:
    """The argv after `pip install` of every pip install run in `stage` (split on && and ;)."""
    found: list[list[str]] = []
    for run in stage.all("RUN"):
        for command in re.split(r"&&|;", run):
            argv = shlex.split(command)
            if argv[:1] in (["python"], ["python3"]) and argv[1:3] == ["-m", "pip"]:
                argv = argv[2:]
            if argv[:2] == ["pip", "install"]:
                found.append(argv[2:])
    return found


def exec_form(args: str) -> list[str]:
    """A JSON-array instruction (ENTRYPOINT, CMD) as a list."""
    import json

    value = json.loads(args)
    assert isinstance(value, list), f"use the exec form: {args}"
    return [str(v) for v in value]
