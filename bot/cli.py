"""``python -m bot``: run, demo, simulator, check, backup, admin-link."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from bot.config import ConfigError, load_config

DEFAULT_CONFIG = "config.toml"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot", description="SMM chat shop")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the shop bot (long polling)")
    run.add_argument("--config", default=DEFAULT_CONFIG)

    demo = sub.add_parser("demo", help="the whole shop locally, with a browser chat page")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--dir", default="demo-data", help="folder for the demo database")
    demo.add_argument(
        "--catalog",
        choices=("small", "large"),
        default="small",
        help="the simulated panel's catalog: a dozen services, or ~3,600 like a real panel",
    )

    sim = sub.add_parser("simulator", help="run the SMM panel simulator")
    sim.add_argument("--port", type=int, default=8081)
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--key", default="demo-key", help="API key the simulator accepts")
    sim.add_argument("--speed", type=float, default=10.0, help="seconds per order stage")
    sim.add_argument("--balance", default="1000", help="simulated panel balance (USD)")
    sim.add_argument(
        "--catalog",
        choices=("small", "large"),
        default="small",
        help="a dozen services, or ~3,600 in ~200 categories shaped like a real panel's",
    )

    check = sub.add_parser("check", help="verify the ledger invariants of the database")
    check.add_argument("--config", default=DEFAULT_CONFIG)
    check.add_argument("--db", help="database file (overrides the config's storage.path)")

    backup = sub.add_parser("backup", help="copy the database safely while the shop runs")
    backup.add_argument("dest")
    backup.add_argument("--config", default=DEFAULT_CONFIG)

    link = sub.add_parser(
        "admin-link", help="print a one-time login link to the owner's web console"
    )
    link.add_argument("--config", default=DEFAULT_CONFIG)
    link.add_argument(
        "--admin", type=int, help="the admin's id (default: the first of telegram.admin_ids)"
    )
    return p


def _setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO; the Bot API URL contains the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup_logging()
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "simulator":
        from sandbox.panel import run_panel_blocking

        run_panel_blocking(
            port=args.port,
            host=args.host,
            api_key=args.key,
            speed=args.speed,
            balance=args.balance,
            catalog=args.catalog,
        )
        return 0
    if args.command == "check":
        from bot.maintenance import check_database

        db_path = args.db or load_config(args.config).storage.path
        return asyncio.run(check_database(db_path))
    if args.command == "backup":
        from bot.maintenance import backup_database

        return asyncio.run(backup_database(load_config(args.config).storage.path, args.dest))
    if args.command == "admin-link":
        from bot.maintenance import admin_link

        return asyncio.run(admin_link(load_config(args.config), args.admin))
    if args.command == "run":
        from bot.runner import run

        return run(load_config(args.config))
    if args.command == "demo":
        from bot.demo import run_demo

        return run_demo(host=args.host, port=args.port, folder=args.dir, catalog=args.catalog)
    raise AssertionError(args.command)
