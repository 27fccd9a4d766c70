"""The credentials stage: a password, or trusted publishing (one module per CI that PyPI trusts,
the exchange at the index), and the PEP 740 attestations signed with that identity."""
