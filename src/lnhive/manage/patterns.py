"""Schema patterns of credentials and policies (comms spec §3.1).

A pattern is an exact schema id, ``family/*`` (the family prefix then ``/``, so
``hive:fee-policy/*`` does not match ``hive:fee-policy-extended/v1``) or ``*``.
``allowed_actions`` entries are ``schema#action``.
"""

from __future__ import annotations

from collections.abc import Iterable


def pattern_matches(pattern: str, schema_id: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith("/*"):
        return schema_id.startswith(pattern[:-1])
    return pattern == schema_id


def any_matches(patterns: Iterable[str], schema_id: str) -> bool:
    return any(pattern_matches(p, schema_id) for p in patterns)


def pattern_is_known(pattern: str, schema_ids: Iterable[str]) -> bool:
    """Whether ``pattern`` matches at least one known schema."""
    return any(pattern_matches(pattern, s) for s in schema_ids)
