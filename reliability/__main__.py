"""`python -m reliability load` and `python -m reliability soak`: bounded runs on loopback
against gunicorn, Celery workers, PostgreSQL and a private Redis. Exit status 0 means the run
met its promises (no 5xx; nothing lost, nothing duplicated)."""

from __future__ import annotations

import argparse
import signal
import sys

# The generations of Codat's expenses API (`companies.platforms.ApiGeneration`; Django is not
# set up yet when the arguments are read).
GENERATIONS = ("v1", "expenses")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability")
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("load", help="50 users in the queue while 10,000 expenses push")
    load.add_argument("--expenses", type=int, default=10_000)
    load.add_argument("--users", type=int, default=50)
    load.add_argument("--duration", type=float, default=300.0, help="seconds of browsing")
    load.add_argument("--max-requests", type=int, default=100_000)
    load.add_argument("--timeout", type=float, default=3600.0, help="bound on the whole push")
    soak = commands.add_parser("soak", help="10,000 expenses pushed through faults and kills")
    soak.add_argument("--expenses", type=int, default=10_000)
    soak.add_argument("--kills", type=int, choices=[0, 1, 2], default=2)
    soak.add_argument("--redis-restarts", type=int, choices=[0, 1], default=1)
    soak.add_argument("--timeout", type=float, default=3600.0, help="bound on the whole push")
    soak.add_argument(
        "--generation",
        choices=GENERATIONS,
        default="v1",
        help="the expenses API the pushing company speaks: v1 (Sync for Expenses: datasets, "
        "one sync) or expenses (Codat's newer Expenses API: a keyed call and a sync per batch)",
    )
    args = parser.parse_args(argv)
    # A run stopped from outside (a time limit's SIGTERM) still stops every process it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for name in ("expenses", "timeout"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be above 0")
    if args.command == "soak":
        from reliability import soak as soak_run

        ok = soak_run.run(
            soak_run.SoakOptions(
                expenses=args.expenses,
                kills=args.kills,
                redis_restarts=args.redis_restarts,
                timeout_s=args.timeout,
                generation=args.generation,
            )
        )
    else:
        from reliability import load as load_run

        if args.users < 1 or args.duration <= 0:
            parser.error("--users must be at least 1 and --duration above 0")
        ok = load_run.run(
            load_run.LoadOptions(
                expenses=args.expenses,
                users=args.users,
                duration_s=args.duration,
                max_requests=args.max_requests,
                timeout_s=args.timeout,
            )
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
