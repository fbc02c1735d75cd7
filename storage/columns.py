"""Allow-listed column names for partial updates.

Identifiers cannot be bound as SQL parameters, so the few updates that take a set of
columns check every name against these lists; values are always bound.
"""

from collections.abc import Iterable


def set_clause(allowed: frozenset[str], fields: Iterable[str]) -> str:
    names = list(fields)
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise ValueError(f"not updatable: {bad or 'nothing'}")
    return ", ".join(f"{n} = ?" for n in names)
