"""The long crash run, by hand: ``.venv/bin/python bench/crash_long.py [SEED] [--keep]``.

200 orders (20 customers × 10) with bank top-ups approved by an admin in chat, the bot
SIGKILLed at ~80 random moments plus every named crash point 3 times. Every check of
tests/crash/harness.py runs after each restart and at the end; a summary is printed.
Takes a few minutes. ``--keep`` leaves the folder (database, bot.log) for inspection.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.crash.harness import crash_run


async def main(seed: int, keep: bool) -> int:
    folder = Path(tempfile.mkdtemp(prefix=f"crash-long-{seed}-"))
    try:
        h, r = await crash_run(
            folder, seed, customers=20, orders_each=10, random_kills=80, point_rounds=3,
            armed_wait=4.0, kill_within=2.0, think=25.0,
        )  # fmt: skip
    except AssertionError as exc:
        print(f"FAILED (seed {seed}): {exc}\nfolder kept: {folder}")
        return 1
    causes = Counter(d.cause for d in r.deaths)
    in_flight = Counter(s for d in r.deaths for s in d.in_flight.values())
    resent = sum(len(d.sent_unmarked) for d in r.deaths)
    print(f"seed {seed}: {len(r.deaths)} deaths in {r.seconds:.0f}s, {r.starts} starts")
    print(f"  causes: {dict(causes)}")
    print(f"  orders: {sum(r.statuses.values())} {r.statuses}")
    print(f"  caught mid-flight at a death: {dict(in_flight)}; messages resent: {resent}")
    print(f"  panel adds: {len(h.sim.add_records)}; all checks passed")
    if keep:
        print(f"  folder: {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--keep"]
    sys.exit(asyncio.run(main(int(args[0]) if args else 1, "--keep" in sys.argv)))
