"""What to do about an upload the index refused: PyPI's refusal texts
(warehouse/forklift/legacy.py) matched to the fix, for the upload's error."""

from __future__ import annotations

from collections.abc import Sequence

from packaging.utils import canonicalize_name


def pending_project_mismatch(names: Sequence[str]) -> str:
    """The fix for PyPI's "Non-user identities cannot create new projects" at upload."""
    shown = ", ".join(f"'{n}' (normalized '{canonicalize_name(n)}')" for n in names)
    return (
        "A pending publisher created the project at token exchange, but its project name "
        f"does not match your distributions: {shown}. PyPI compares normalized names. "
        "Delete the pending publisher on PyPI and add one for the name above, or change "
        "`name` in pyproject.toml to the one the pending publisher was made for."
    )


#: PyPI's upload refusals (their texts: warehouse/forklift/legacy.py) → what to do about
#: them. First match wins.
_REFUSAL_FIXES: tuple[tuple[str, str], ...] = (
    (
        "older than 14 days",
        "PyPI closes a release to new files 14 days after it was created: publish these "
        "files under a new version.",
    ),
    (
        "previously used by a file that has since been deleted",
        "A deleted file's name can never be used again: bump the version and rebuild.",
    ),
    (
        "file already exists",
        "A released file can never be replaced: bump the version and rebuild.",
    ),
    (
        "file too large",
        "Make the file smaller (leave test data and debug symbols out), or ask PyPI for a "
        "larger limit: https://pypi.org/help/#file-size-limit",
    ),
    (
        "project size too large",
        "The project is over its total size limit: delete old pre-releases or ask PyPI for "
        "more: https://pypi.org/help/#project-size-limit",
    ),
    (
        "local versions",
        "PyPI refuses local versions (the `+...` part). Build from a tagged commit, or tell "
        'your version tool to leave it out (setuptools-scm: local_scheme = "no-local-version").',
    ),
    (
        "only one sdist may be uploaded",
        "The release already has an sdist: keep one .tar.gz per version.",
    ),
    (
        "isn't allowed to upload to project",
        "The credential belongs to another project: register the trusted publisher (or scope "
        "the token) for this project's name.",
    ),
    (
        "not valid for project",
        "The trusted publisher belongs to another project: add a publisher to this project "
        "on PyPI (its Publishing page), or fix `name` in pyproject.toml.",
    ),
    (
        "does not match expected trusted publisher",
        "PyPI checked the attestation's signing identity against the trusted publisher and "
        "they differ: a publish job in a reusable workflow signs as the calling workflow. "
        "Publish from the workflow the trusted publisher names, or set `attestations: false`.",
    ),
    (
        "invalid attestations supplied during upload",
        "The index refused the file's attestation for the reason above. Delete the "
        "`.publish.attestation` files for trusted-publish to sign the files afresh, or set "
        "`attestations: false` to publish without attestations.",
    ),
    (
        "description failed to render",
        "Fix the README markup where the index's message points, or set "
        "`Description-Content-Type` to the format it is written in.",
    ),
)


def upload_refusal_fix(status: int, message: str, project: str) -> str:
    """What to do about the index's refusal (`status`, `message`) of a file of `project`."""
    lowered = message.lower()
    if "non-user identities cannot create new projects" in lowered:
        return pending_project_mismatch([project])
    for needle, fix in _REFUSAL_FIXES:
        if needle in lowered:
            return fix
    if status in (401, 403):
        return (
            "The index did not accept the credentials for this project: with trusted "
            "publishing, check that the publisher on the index is registered for this "
            "project; with a token, that it is scoped to it."
        )
    if status == 400:
        return "Fix what the index names above, rebuild, and publish again."
    return "See the index's answer above."
