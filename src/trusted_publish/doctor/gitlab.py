"""GitLab CI/CD checks: the publishing jobs of `.gitlab-ci.yml`, the GitLab publisher PyPI
needs for each (warehouse/oidc/models/gitlab.py: namespace, project, the top-level pipeline
file's path, the environment), and each job's problems and warnings.

A job gets an ID token only from an `id_tokens:` entry (its own, an `extends:` template's or
`default:`'s). uv, twine (through `id`) and trusted-publish read it from the variable named
after the audience: `PYPI_ID_TOKEN` for `aud: pypi`, `TESTPYPI_ID_TOKEN` for `aud: testpypi`.
"""

from __future__ import annotations

from typing import Optional

from trusted_publish.doctor.forms import add_links
from trusted_publish.doctor.model import JobReport
from trusted_publish.doctor.publishing import Publish, builds, from_script
from trusted_publish.doctor.yamlfile import YList, YMap, YNode, YText, texts

PIPELINE_FILE = ".gitlab-ci.yml"
#: Top-level keys of .gitlab-ci.yml that are not jobs.
_RESERVED = frozenset(
    {"stages", "variables", "default", "include", "workflow", "image", "services",
     "before_script", "after_script", "cache", "types", "spec"}
)  # fmt: skip
_MAX_EXTENDS = 11  # GitLab's own limit on `extends:` depth


def _merge(base: YMap, top: YMap) -> YMap:
    """GitLab's `extends:` merge: mappings merge key by key, anything else is replaced."""
    items = dict(base.items)
    for key, value in top.items.items():
        old = items.get(key)
        items[key] = (
            _merge(old, value) if isinstance(old, YMap) and isinstance(value, YMap) else value
        )
    return YMap(items, top.line, {**base.key_lines, **top.key_lines})


def _resolved(root: YMap, name: str, depth: int = 0) -> YMap:
    node = root.map(name) or YMap()
    if depth >= _MAX_EXTENDS:
        return node
    merged = YMap(line=node.line)
    for parent in texts(node.get("extends")):
        if root.map(parent) is not None:
            merged = _merge(merged, _resolved(root, parent, depth + 1))
    own = YMap({k: v for k, v in node.items.items() if k != "extends"}, node.line, node.key_lines)
    return _merge(merged, own)


def _script(node: Optional[YNode]) -> str:
    if isinstance(node, YText):
        return node.value
    if isinstance(node, YList):
        return "\n".join(_script(item) for item in node.items)
    return ""


def _variables(node: Optional[YNode]) -> dict[str, str]:
    if not isinstance(node, YMap):
        return {}
    found: dict[str, str] = {}
    for key, value in node.items.items():
        if isinstance(value, YText):
            found[key] = value.value
        elif isinstance(value, YMap) and value.text("value") is not None:
            found[key] = value.text("value") or ""
    return found


def _environment(node: Optional[YNode]) -> Optional[str]:
    if isinstance(node, YText):
        return node.value or None
    if isinstance(node, YMap):
        return node.text("name") or None
    return None


def _audiences(id_tokens: Optional[YMap]) -> dict[str, list[str]]:
    """Variable → the audiences its ID token is for."""
    if id_tokens is None:
        return {}
    return {
        name: texts(spec.get("aud")) if isinstance(spec, YMap) else []
        for name, spec in id_tokens.items.items()
    }


def check(
    tree: YNode, namespace_project: Optional[tuple[str, str]], project: Optional[str]
) -> list[JobReport]:
    """One report per publishing job of the parsed .gitlab-ci.yml."""
    root = tree if isinstance(tree, YMap) else YMap(line=1)
    default = root.map("default") or YMap()
    reports: list[JobReport] = []
    for name, node in root.items.items():
        if name in _RESERVED or name.startswith(".") or not isinstance(node, YMap):
            continue
        job = _resolved(root, name)
        variables = {**_variables(root.get("variables")), **_variables(job.get("variables"))}
        script = "\n".join(
            _script(job.get(key) or default.get(key))
            for key in ("before_script", "script", "after_script")
        )
        line = root.line_of(name)
        steps: list[Publish] = from_script(script, variables, line)
        if not steps:
            continue
        report = _report(
            name,
            line=line,
            job=job,
            steps=steps,
            namespace_project=namespace_project,
            project=project,
        )
        id_tokens = job.map("id_tokens") or default.map("id_tokens")
        _id_tokens(report, _audiences(id_tokens), steps, line)
        if builds(script):
            report.warning(
                "build-in-publish-job",
                f"Job '{name}' builds the distributions in the job that holds the ID token: "
                "every build dependency runs where it can publish.",
                "Build in one job (`artifacts: paths: [dist/]`), publish in a later stage's job.",
                job.line_of("script"),
            )
        if not _environment(job.get("environment")):
            report.warning(
                "no-environment",
                f"Job '{name}' runs in no environment: nothing guards who may publish.",
                "Add `environment: pypi` (protect it under Settings → CI/CD → Protected "
                "environments) and name it in the publisher on PyPI.",
                line,
            )
        if namespace_project is not None:
            params = {
                "provider": "gitlab",
                "namespace": namespace_project[0],
                "project": namespace_project[1],
                "workflow_filepath": PIPELINE_FILE,
            }
            env = _environment(job.get("environment"))
            if env:
                params["environment"] = env
            add_links(report, params, project)
        reports.append(report)
    return reports


def _report(
    name: str,
    *,
    line: int,
    job: YMap,
    steps: list[Publish],
    namespace_project: Optional[tuple[str, str]],
    project: Optional[str],
) -> JobReport:
    indexes = tuple(dict.fromkeys(s.index for s in steps))
    tools = ", ".join(dict.fromkeys(s.tool for s in steps))
    report = JobReport("gitlab", PIPELINE_FILE, name, line, tools, indexes, project=project)
    namespace, project_name = namespace_project or (None, None)
    env = _environment(job.get("environment"))
    report.publisher_keys = {
        "namespace": namespace,
        "project": project_name,
        "workflow_filepath": PIPELINE_FILE,
        "environment": env or "",
    }
    report.publisher = [
        ("Namespace", namespace or "(unknown)"),
        ("Project name", project_name or "(unknown)"),
        ("Top-level pipeline file path", PIPELINE_FILE),
        ("Environment name", env or "(leave empty)"),
    ]
    report.notes.append(
        "The top-level pipeline file is the project's CI/CD configuration file: "
        f"{PIPELINE_FILE} unless Settings → CI/CD names another."
    )
    if namespace_project is None:
        report.problem(
            "unknown-repository",
            "Could not tell the project's namespace and name: the repository has no `origin` "
            "remote doctor could read.",
            "Pass them: `trusted-publish doctor --repository NAMESPACE/PROJECT`.",
            line,
        )
    return report


def _id_tokens(
    report: JobReport, audiences: dict[str, list[str]], steps: list[Publish], line: int
) -> None:
    if any(s.token for s in steps):
        return
    for index in report.indexes:
        if index == "other":
            continue
        variable = f"{index.upper()}_ID_TOKEN"
        block = f"    id_tokens:\n      {variable}:\n        aud: {index}"
        holders = [name for name, auds in audiences.items() if index in auds]
        if not holders:
            report.problem(
                "missing-id-tokens",
                f"Job '{report.job}' declares no ID token with audience '{index}' under "
                "`id_tokens:`: GitLab gives it none, so PyPI can't trust it.",
                f"Declare it in the job:\n{block}",
                line,
            )
        elif variable not in holders:
            report.problem(
                "id-token-variable",
                f"The ID token for '{index}' is in `{holders[0]}`, but uv, twine and "
                f"trusted-publish read `{variable}`.",
                f"Name it `{variable}`:\n{block}\n(trusted-publish alone can be told "
                "another name with --gitlab-id-token-variable.)",
                line,
            )
