"""`trusted-publish doctor`: check a repository's release setup offline, before the first
release (issue 21). Imports nothing of trusted-publish but `errors` and `console`.

Modules: `yamlfile` reads a CI file into a typed tree with line numbers; `workflows` reads a
GitHub workflow's triggers, permissions, jobs and steps; `publishing` tells which step
publishes and where; `github` and `gitlab` are each CI's checks; `repo` reads the remote
and pyproject.toml; `forms` builds PyPI's publisher-form links; `model` holds the findings;
`render` shows them (text or JSON); `command` is the entry point `cli` calls.
"""
