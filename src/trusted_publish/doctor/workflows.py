"""Read a GitHub Actions workflow's typed tree into what the checks look at: its triggers,
its permissions, and its jobs with their steps (each with its line), without judging any of
it. A value of an unexpected shape reads as absent, never as an exception."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from trusted_publish.doctor.yamlfile import YList, YMap, YNode, YText


@dataclass(frozen=True)
class Permissions:
    """A `permissions:` block: does it grant `id-token: write`?"""

    id_token: bool
    line: int


@dataclass(frozen=True)
class Step:
    line: int
    uses: Optional[str] = None
    run: Optional[str] = None
    with_: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    id: str
    line: int
    name: Optional[str]
    permissions: Optional[Permissions]
    environment: Optional[str]
    if_: str
    uses: Optional[str]
    """A job that calls a reusable workflow: `uses: ./.github/workflows/x.yml`."""
    steps: tuple[Step, ...]
    env: dict[str, str]


@dataclass(frozen=True)
class Workflow:
    file: str
    """Its file name (`release.yml`): what PyPI's publisher names."""
    shown: str
    """Its path in the repository, for messages."""
    triggers: dict[str, Optional[YMap]]
    on_line: int
    permissions: Optional[Permissions]
    jobs: tuple[Job, ...]

    @property
    def reusable(self) -> bool:
        return "workflow_call" in self.triggers


def _text_map(node: Optional[YNode]) -> dict[str, str]:
    if not isinstance(node, YMap):
        return {}
    return {k: v.value for k, v in node.items.items() if isinstance(v, YText)}


def permissions(parent: YMap) -> Optional[Permissions]:
    """`parent`'s `permissions:`: `write-all` grants every permission, `read-all` and `{}`
    none."""
    node = parent.get("permissions")
    line = parent.line_of("permissions")
    if node is None:
        return None
    if isinstance(node, YText):
        return Permissions(node.value.strip() == "write-all", line)
    if isinstance(node, YMap):
        return Permissions(node.text("id-token") == "write", line)
    return Permissions(False, line)


def _triggers(node: Optional[YNode]) -> dict[str, Optional[YMap]]:
    if isinstance(node, YText):
        return {node.value: None}
    if isinstance(node, YList):
        return {item.value: None for item in node.items if isinstance(item, YText)}
    if isinstance(node, YMap):
        return {k: v if isinstance(v, YMap) else None for k, v in node.items.items()}
    return {}


def _environment(node: Optional[YNode]) -> Optional[str]:
    if isinstance(node, YText):
        return node.value or None
    if isinstance(node, YMap):
        return node.text("name") or None
    return None


def _step(node: YNode) -> Optional[Step]:
    if not isinstance(node, YMap):
        return None
    return Step(
        line=node.line,
        uses=node.text("uses"),
        run=node.text("run"),
        with_=_text_map(node.get("with")),
        env=_text_map(node.get("env")),
    )


def _job(job_id: str, node: YNode, line: int) -> Optional[Job]:
    if not isinstance(node, YMap):
        return None
    steps_node = node.get("steps")
    steps = steps_node.items if isinstance(steps_node, YList) else ()
    return Job(
        id=job_id,
        line=line,
        name=node.text("name"),
        permissions=permissions(node),
        environment=_environment(node.get("environment")),
        if_=node.text("if") or "",
        uses=node.text("uses"),
        steps=tuple(s for s in (_step(n) for n in steps) if s is not None),
        env=_text_map(node.get("env")),
    )


def read(tree: YNode, file: str, shown: str) -> Workflow:
    """The workflow in `tree` (the parsed file `shown`, named `file`)."""
    root = tree if isinstance(tree, YMap) else YMap(line=1)
    jobs_node = root.map("jobs") or YMap()
    jobs = jobs_node.items.items()
    return Workflow(
        file=file,
        shown=shown,
        triggers=_triggers(root.get("on")),
        on_line=root.line_of("on"),
        permissions=permissions(root),
        jobs=tuple(j for j in (_job(k, v, jobs_node.line_of(k)) for k, v in jobs) if j is not None),
    )
