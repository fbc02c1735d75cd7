"""Crash injection for the crash-safety tests: a real SIGKILL at a named line.

``SHOP_CRASH_AT`` (read once, at import) names the points: ``name`` (first hit),
``name:N`` (the N-th hit) or a comma list of those. Unset (production), ``crashpoint``
is a dict lookup on an empty dict: nothing else happens.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV_VAR = "SHOP_CRASH_AT"
POINTS = (
    "after_debit_commit",
    "after_claim",
    "after_panel_answer",
    "after_refund_commit",
    "after_send_before_mark",
    "after_topup_credit",
)
# Armed by their own tests (the general crash run in tests/test_crash.py arms each of POINTS).
CARD_POINTS = ("after_card_confirm",)  # the PG approved; our credit not yet written
KNOWN = POINTS + CARD_POINTS


def parse_spec(spec: str) -> dict[str, int]:
    """``"a,b:3"`` → ``{"a": 1, "b": 3}``; unknown names are an error (a typo must not pass)."""
    targets: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, nth = part.partition(":")
        if name not in KNOWN:
            raise ValueError(f"{ENV_VAR}: unknown crash point {name!r}")
        targets[name] = int(nth) if nth else 1
        if targets[name] < 1:
            raise ValueError(f"{ENV_VAR}: hit number must be >= 1 in {part!r}")
    return targets


_targets = parse_spec(os.environ.get(ENV_VAR, ""))
_hits: Counter[str] = Counter()


def crashpoint(name: str) -> None:
    """SIGKILL this process here if ``SHOP_CRASH_AT`` asks for it (else do nothing)."""
    nth = _targets.get(name)
    if nth is None:
        return
    _hits[name] += 1
    if _hits[name] == nth:
        # Unbuffered, so the harness can tell a planned death from anything else.
        os.write(2, f"\nCRASHPOINT {name}:{nth}\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)
