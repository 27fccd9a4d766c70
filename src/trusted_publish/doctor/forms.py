"""PyPI's trusted-publisher forms: the links doctor prints for each publishing job.

The project's own form is filled in from the query, as warehouse does it; the pending
publisher's form (a project that does not exist yet) can't be, and is linked plainly.
"""

from __future__ import annotations

import re
from typing import Optional
from urllib.parse import urlencode

from trusted_publish.doctor.model import JobReport, Link


def normalize(name: str) -> str:
    """PEP 503's normalized project name (as PyPI's URLs spell it)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def project_form(web: str, project: str, params: dict[str, str]) -> str:
    """PyPI's publisher form of an existing project, filled in from the query: warehouse's
    `ManageOIDCPublisherViews.manage_project_oidc_publishers_prefill`
    (warehouse/manage/views/oidc_publishers.py) fills the form from `provider=…&…`."""
    return f"{web}/manage/project/{normalize(project)}/settings/publishing/?{urlencode(params)}"


def pending_form(web: str) -> str:
    """PyPI's form for a pending publisher (a project that does not exist yet). It can't be
    filled in from the URL: warehouse's `ManageAccountPublishingViews`
    (warehouse/accounts/views.py) builds its forms from the POST body only."""
    return f"{web}/manage/account/publishing/"


INDEX_WEB = {"pypi": "https://pypi.org", "testpypi": "https://test.pypi.org"}
INDEX_NAME = {"pypi": "PyPI", "testpypi": "TestPyPI"}


def add_links(report: JobReport, params: dict[str, str], project: Optional[str]) -> None:
    """The forms for `report`'s indexes: pending publisher, and the project's (filled in)."""
    for index in report.indexes:
        if index not in INDEX_WEB:
            continue
        web, name = INDEX_WEB[index], INDEX_NAME[index]
        report.links.append(Link(f"{name}, new project (pending publisher)", pending_form(web)))
        if project:
            report.links.append(
                Link(f"{name}, existing project {project}", project_form(web, project, params))
            )
