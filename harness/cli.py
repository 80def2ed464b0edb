"""Command line: re-render and compare stored results without touching a model.

``harness report RESULTS.json [--out DIR]``
    print the deployment table as Markdown; with ``--out`` also write deployment.md/.csv.
``harness compare OLD.json NEW.json [--config FILE] [--max-baseline-drop X] [--max-latency-regression X]``
    print a diff table of the variants both runs share; exit 1 when NEW regresses against
    OLD beyond the budgets (mAP50-95 drop; latency only when the fingerprints are equal),
    2 on an error (unreadable file, no common variants), else 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.budgets import Budgets, CheckResult, check_baseline_drop, check_latency_regression
from harness.errors import HarnessError
from harness.report.tables import diff_table, to_markdown
from harness.report.writer import render_markdown, write_tables
from harness.results import RunResults

__all__ = ["main", "build_parser", "compare_checks"]

EXIT_OK, EXIT_REGRESSION, EXIT_ERROR = 0, 1, 2


def _fraction(text: str) -> float:
    """argparse type: a number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``harness`` argument parser with its ``report`` and ``compare`` commands."""
    parser = argparse.ArgumentParser(prog="harness", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    report = commands.add_parser("report", help="re-render the tables of a results.json")
    report.add_argument("results", type=Path, help="results.json of a run")
    report.add_argument("--out", type=Path, help="also write deployment.md/.csv here (default: print only)")
    report.set_defaults(func=_report)
    compare = commands.add_parser("compare", help="diff two results.json; exit 1 on a regression")
    compare.add_argument("old", type=Path, help="results.json taken as the baseline")
    compare.add_argument("new", type=Path, help="results.json to check")
    compare.add_argument(
        "--config", type=Path,
        help="take budgets from this pyproject.toml/harness.toml (default: built-in budgets)",
    )  # fmt: skip
    compare.add_argument(
        "--max-baseline-drop", type=_fraction,
        help="mAP50-95 drop allowed, absolute (default: 0.005 or the config's)",
    )  # fmt: skip
    compare.add_argument(
        "--max-latency-regression", type=_fraction,
        help="relative latency increase allowed (default: 0.25 or the config's)",
    )  # fmt: skip
    compare.set_defaults(func=_compare)
    return parser


def _report(args: argparse.Namespace) -> int:
    """``harness report``."""
    run = RunResults.load(args.results)
    print(render_markdown(run), end="")
    if args.out is not None:
        for path in write_tables(run, args.out):
            print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK


def _budgets(args: argparse.Namespace) -> Budgets:
    """Budgets from ``--config`` (or the defaults) with command-line limits on top."""
    budgets = Budgets()
    if args.config is not None:
        from harness.config import load_config  # only needed with --config

        config = args.config.absolute()
        budgets = load_config(config.parent, path=config).budgets
    limits = {
        "max_baseline_drop": args.max_baseline_drop,
        "max_latency_regression": args.max_latency_regression,
    }
    given = {k: v for k, v in limits.items() if v is not None}
    default = dataclasses.replace(budgets.default, **given)
    return dataclasses.replace(budgets, default=default)


def compare_checks(old: RunResults, new: RunResults, budgets: Budgets) -> list[CheckResult]:
    """Baseline checks of every variant in both runs: mAP50-95 drop, then latency."""
    same = old.fingerprint_id == new.fingerprint_id
    checks = []
    for result in new.variants:
        before = old.variant(result.variant)
        if before is None:
            continue
        budget = budgets.for_variant(result.variant, result.precision, result.prune > 0)
        new_m, old_m = result.metrics, before.metrics
        checks.append(
            check_baseline_drop(budget, result.variant, new_m.get("map50_95"), old_m.get("map50_95"))
        )
        checks.append(
            check_latency_regression(
                budget,
                result.variant,
                new_m.get("latency_median_ms"),
                old_m.get("latency_median_ms"),
                same,
            )  # fmt: skip
        )
    return checks


def _compare(args: argparse.Namespace) -> int:
    """``harness compare``: table first, then the verdict."""
    old, new = RunResults.load(args.old), RunResults.load(args.new)
    budgets = _budgets(args)
    shared = [v.variant for v in new.variants if old.variant(v.variant) is not None]
    if not shared:
        raise HarnessError(f"no common variants between {args.old} and {args.new}")
    print(f"Comparing {args.old} (run {old.run_id}) with {args.new} (run {new.run_id})\n")
    print(to_markdown(diff_table(old, new)))
    if old.fingerprint_id != new.fingerprint_id:
        print(
            f"\nnote: fingerprints differ ({old.fingerprint_id} vs {new.fingerprint_id}); "
            "absolute latency not compared"
        )
    failed = [c for c in compare_checks(old, new, budgets) if c.failed]
    print()
    for check in failed:
        print(f"REGRESSION {check.message}")
    if not failed:
        print(f"no regression in {len(shared)} common variant(s)")
    return EXIT_REGRESSION if failed else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``harness`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
