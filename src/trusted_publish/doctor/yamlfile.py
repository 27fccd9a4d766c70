"""Read one CI file (a workflow, .gitlab-ci.yml) into a typed tree that knows its line numbers.

The file is untrusted input: it is read once, bounded in size, and parsed here, at this one
boundary, into `YMap`/`YList`/`YText` values; anything PyYAML can't read becomes a
`BrokenYaml` with the file's line, never a traceback later. PyYAML's `compose` gives nodes
with their positions and constructs no object at all (SafeLoader's resolver: plain text,
lists and mappings only), so nothing in the file can make us build something. Scalars stay
text as written: YAML 1.1 would read GitHub's `on:` key as the boolean true.

Aliases are followed with a budget of nodes, so a file of nested aliases (a "billion
laughs") ends as a `BrokenYaml`, not as a full memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from trusted_publish.errors import DoctorError

#: The largest CI file we read: workflows are a few KiB; a larger file is not a workflow.
MAX_FILE_SIZE = 1024 * 1024
#: How many nodes a file may expand to once aliases are followed.
MAX_NODES = 200_000

INSTALL_HINT = (
    "Install trusted-publish with its `doctor` extra: `pipx install 'trusted-publish[doctor]'` "
    "(or `pip install 'trusted-publish[doctor]'`)."
)


@dataclass(frozen=True)
class YText:
    """A scalar, as written (`true`, `on` and `1` stay text)."""

    value: str
    line: int


@dataclass(frozen=True)
class YList:
    items: tuple[YNode, ...]
    line: int


@dataclass(frozen=True)
class YMap:
    items: dict[str, YNode] = field(default_factory=dict)
    line: int = 0
    key_lines: dict[str, int] = field(default_factory=dict)
    """The line of each key (a block's value starts on the line after its key)."""

    def get(self, key: str) -> Optional[YNode]:
        return self.items.get(key)

    def map(self, key: str) -> Optional[YMap]:
        value = self.items.get(key)
        return value if isinstance(value, YMap) else None

    def text(self, key: str) -> Optional[str]:
        value = self.items.get(key)
        return value.value if isinstance(value, YText) else None

    def line_of(self, key: str) -> int:
        """The line of `key` (of the mapping, when it has no such key)."""
        return self.key_lines.get(key, self.line)


YNode = Union[YText, YList, YMap]


@dataclass(frozen=True)
class BrokenYaml:
    """A file that can't be read as YAML: where, and PyYAML's reason."""

    path: str
    line: int
    reason: str


def texts(node: Optional[YNode]) -> list[str]:
    """A scalar or a list of scalars as a list of text (`branches: main` or `[main, dev]`)."""
    if isinstance(node, YText):
        return [node.value]
    if isinstance(node, YList):
        return [item.value for item in node.items if isinstance(item, YText)]
    return []


def load(path: Path, shown: str) -> Union[YNode, BrokenYaml]:
    """`path` parsed (`shown`: its name relative to the repository, for messages)."""
    try:
        import yaml
    except ImportError:
        raise DoctorError(
            "`trusted-publish doctor` reads workflow files with PyYAML, which is not installed "
            "with this trusted-publish.",
            fix=INSTALL_HINT,
        ) from None
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_SIZE + 1)
    except OSError as exc:
        return BrokenYaml(shown, 0, f"can't be read: {exc.strerror or type(exc).__name__}")
    if len(data) > MAX_FILE_SIZE:
        return BrokenYaml(shown, 0, f"is over {MAX_FILE_SIZE // 1024} KiB: not read")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return BrokenYaml(shown, data[: exc.start].count(b"\n") + 1, "is not UTF-8 text")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        return BrokenYaml(shown, line, " ".join(str(exc.problem or exc).split()))
    except yaml.reader.ReaderError as exc:
        # A character YAML does not allow (a NUL, a control character): PyYAML gives its
        # position in the text, not a mark; the line is counted from it.
        line = text[: max(exc.position, 0)].count("\n") + 1
        return BrokenYaml(shown, line, " ".join(str(exc).split()))
    except yaml.YAMLError as exc:
        return BrokenYaml(shown, 0, " ".join(str(exc).split()))
    except RecursionError:
        return BrokenYaml(shown, 0, "nests too deeply")
    if node is None:
        return YMap(line=1)
    try:
        return _Converter().convert(node)
    except _TooLarge:
        return BrokenYaml(shown, 0, f"expands to over {MAX_NODES} nodes through its aliases")
    except RecursionError:
        return BrokenYaml(shown, 0, "nests too deeply")


class _TooLarge(Exception):
    pass


_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Converter:
    def __init__(self) -> None:
        self.budget = MAX_NODES

    def convert(self, node: Any) -> YNode:
        import yaml

        self.budget -= 1
        if self.budget < 0:
            raise _TooLarge
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            items: dict[str, YNode] = {}
            key_lines: dict[str, int] = {}
            merged: dict[str, YNode] = {}
            for key, value in node.value:
                if getattr(key, "tag", "") == _MERGE_TAG:
                    # `<<: *defaults` (GitLab files use it): the keys the mapping itself
                    # does not set come from the merged mapping(s).
                    for source in value.value if isinstance(value, yaml.SequenceNode) else [value]:
                        converted = self.convert(source)
                        if isinstance(converted, YMap):
                            for k, v in converted.items.items():
                                merged.setdefault(k, v)
                    continue
                name = key.value if isinstance(key, yaml.ScalarNode) else ""
                items[str(name)] = self.convert(value)
                key_lines[str(name)] = key.start_mark.line + 1
            for k, v in merged.items():
                items.setdefault(k, v)
            return YMap(items, line, key_lines)
        if isinstance(node, yaml.SequenceNode):
            return YList(tuple(self.convert(item) for item in node.value), line)
        return YText(str(node.value), line)
