"""Command line: run the suites, start a config, and re-render and compare stored results.

``harness report RESULTS.json [--out DIR] [--summary FILE]``
    print every table of the run as Markdown; with ``--out`` also write the tables (.md/.csv),
    the plots and report.html there.
``harness compare OLD.json NEW.json [--config FILE] [--max-baseline-drop X] [--max-latency-regression X]
[--summary FILE]``
    print a diff table of the variants both runs share, as Markdown; exit 1 when NEW regresses
    against OLD beyond the budgets (mAP50-95 drop; latency only when the fingerprints are equal),
    2 on an error (unreadable file, no common variants), else 0.
``harness compare --ab OLD NEW [--config FILE] [--backend B] [--summary FILE]``
    A/B of two checkpoints (``.pt``, run on backend B) or two variant ids of the config's matrix,
    measured now: latency interleaved, mAP50-95 drop by paired bootstrap on the same val images
    (harness.ab); exit 1 when NEW regresses beyond ``max_map_drop`` or ``max_latency_regression``.
``harness merge A.json B.json ... --out DIR``
    merge shards of one environment (same fingerprint) into one run, show different machines
    side by side: merged.md, merged.csv and a report folder per environment (harness.report.merge).
``harness publish VERSION [--reports DIR] [--force] [RUN ...]``
    copy runs into reports/VERSION/ with index.md and index.html (harness.report.publish).

``harness run [PYTEST ARGS ...]``
    run the installed suites (``pytest --pyargs harness.suites``) on the config in the current
    folder; every pytest and pytest-benchmark option passes through; exits with pytest's status.
``harness init --weights BEST.pt --data DATA.yaml [--out harness.toml] [--force]``
    check a checkpoint and its dataset and write a commented starter config (harness.starter).

``report`` and ``compare`` append their Markdown to ``--summary FILE``, else to the file named by
``$GITHUB_STEP_SUMMARY`` when that is set (the job summary of a GitHub Actions step). Every
command exits 2 with a message naming the file or folder on bad input or an unwritable output.
``report``, ``compare``, ``merge`` and ``publish`` never touch a model (no model library is
imported); ``init`` loads the checkpoint, ``run`` runs pytest.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.checks import CheckResult, check_baseline_drop, check_latency_regression
from harness.config.budgets import Budgets
from harness.errors import HarnessError
from harness.report.merge import write_merge
from harness.report.publish import publish
from harness.report.tables import diff_table, to_markdown
from harness.report.writer import render_summary_markdown, write_tables
from harness.results import RunResults

__all__ = ["build_parser", "compare_checks", "main", "pytest_args", "run"]

EXIT_OK, EXIT_REGRESSION, EXIT_ERROR = 0, 1, 2
SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def _fraction(text: str) -> float:
    """argparse type: a number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _add_summary(parser: argparse.ArgumentParser) -> None:
    """The ``--summary FILE`` option of the commands that print Markdown."""
    parser.add_argument(
        "--summary", type=Path,
        help=f"also append the Markdown to FILE (default: ${SUMMARY_ENV} when set, else nowhere)",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The ``harness`` argument parser: ``report``, ``compare``, ``merge``, ``publish``, ``init``
    and ``run`` (listed for ``--help``; :func:`main` hands ``run``'s arguments to pytest unparsed)."""
    parser = argparse.ArgumentParser(prog="harness", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    report = commands.add_parser("report", help="re-render the tables of a results.json")
    report.add_argument("results", type=Path, help="results.json of a run")
    report.add_argument(
        "--out", type=Path, help="also write the tables, plots and report.html here (default: print only)"
    )
    _add_summary(report)
    report.set_defaults(func=_report)
    compare = commands.add_parser("compare", help="diff two results.json; exit 1 on a regression")
    compare.add_argument(
        "old", type=Path, help="results.json taken as the baseline (--ab: a .pt or variant id)"
    )
    compare.add_argument("new", type=Path, help="results.json to check (--ab: a .pt or variant id)")
    compare.add_argument(
        "--ab", action="store_true",
        help="measure OLD and NEW now (two .pt files or two variant ids): interleaved latency, paired mAP",
    )  # fmt: skip
    compare.add_argument(
        "--backend",
        default="onnxruntime",
        help="--ab with .pt files: the backend both run on (default onnxruntime)",
    )
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
        help="relative latency increase allowed (default: 0.05 or the config's)",
    )  # fmt: skip
    _add_summary(compare)
    compare.set_defaults(func=_compare)
    _add_merge_parser(commands)
    _add_publish_parser(commands)
    _add_init_parser(commands)
    commands.add_parser(
        "run", add_help=False,
        help="run the installed suites here (pytest --pyargs harness.suites); pytest options pass through",
    )  # fmt: skip
    return parser


def _add_merge_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``harness merge``."""
    merge = commands.add_parser("merge", help="merge shards; show results of other machines side by side")
    merge.add_argument("results", type=Path, nargs="+", help="results.json files (shards and/or machines)")
    merge.add_argument(
        "--out", type=Path, required=True, help="write merged.md, merged.csv and the merged runs here"
    )
    merge.set_defaults(func=_merge)


def _add_publish_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``harness publish``."""
    pub = commands.add_parser("publish", help="copy runs into a release folder with index.md/.html")
    pub.add_argument("version", help="release folder name, e.g. v1.2.0 (letters, digits, '.', '_', '-')")
    pub.add_argument(
        "runs", type=Path, nargs="*", metavar="RUN",
        help="run folders or results.json files (default: every run folder under --reports)",
    )  # fmt: skip
    pub.add_argument(
        "--reports", type=Path, default=Path("reports"),
        help="reports directory; the release goes to REPORTS/VERSION (default: reports)",
    )  # fmt: skip
    pub.add_argument("--force", action="store_true", help="replace an existing, different release")
    pub.set_defaults(func=_publish)


def _add_init_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``harness init``."""
    init = commands.add_parser("init", help="check a checkpoint and its data.yaml; write a starter config")
    init.add_argument("--weights", type=Path, required=True, help="an Ultralytics detection checkpoint (.pt)")
    init.add_argument("--data", type=Path, required=True, help="its Ultralytics dataset YAML")
    init.add_argument(
        "--out", type=Path, default=Path("harness.toml"), help="config file to write (default: harness.toml)"
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    init.set_defaults(func=_init)


def _append_summary(args: argparse.Namespace, markdown: str) -> None:
    """Append ``markdown`` to ``--summary``, else to ``$GITHUB_STEP_SUMMARY`` when that is set."""
    target = args.summary or os.environ.get(SUMMARY_ENV) or None
    if target is None:
        return
    path = Path(target)
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(markdown if markdown.endswith("\n") else f"{markdown}\n")
    except OSError as exc:
        raise HarnessError(f"cannot append the summary to {path}: {exc.strerror or exc}") from exc


def _output_dir(path: Path) -> Path:
    """``path``, created if missing; HarnessError naming it when it cannot be created or written."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HarnessError(f"cannot write reports to {path}: {exc.strerror or exc}") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise HarnessError(f"cannot write reports to {path}: permission denied")
    return path


def _report(args: argparse.Namespace) -> int:
    """``harness report``."""
    run = RunResults.load(args.results)
    markdown = render_summary_markdown(run)
    print(markdown, end="")
    if args.out is not None:
        for path in write_tables(run, _output_dir(args.out)):
            print(f"wrote {path}", file=sys.stderr)
    _append_summary(args, markdown)
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
            )
        )
    return checks


def _compare(args: argparse.Namespace) -> int:
    """``harness compare``: table first, then the verdict (``--ab``: measured now, :mod:`harness.ab`)."""
    if args.ab:
        return _compare_ab(args)
    old, new = RunResults.load(args.old), RunResults.load(args.new)
    budgets = _budgets(args)
    shared = [v.variant for v in new.variants if old.variant(v.variant) is not None]
    if not shared:
        raise HarnessError(f"no common variants between {args.old} and {args.new}")
    failed = [c for c in compare_checks(old, new, budgets) if c.failed]
    markdown = _compare_markdown(args, old, new, failed, len(shared))
    print(markdown, end="")
    _append_summary(args, markdown)
    return EXIT_REGRESSION if failed else EXIT_OK


def _compare_ab(args: argparse.Namespace) -> int:
    """``harness compare --ab``: measure both, print the A/B, exit 1 on a failed verdict."""
    from harness.ab import ab_bench, measure_ab, render_ab  # runs models: only --ab imports them
    from harness.config import load_config

    path = args.config.absolute() if args.config else None
    config = load_config(path.parent if path else Path.cwd(), path=path)
    bench, old, new = ab_bench(config, str(args.old), str(args.new), args.backend)
    result = measure_ab(bench, old, new)
    markdown = render_ab(result)
    print(markdown, end="")
    _append_summary(args, markdown)
    return EXIT_REGRESSION if result.failed else EXIT_OK


def _compare_markdown(
    args: argparse.Namespace, old: RunResults, new: RunResults, failed: Sequence[CheckResult], shared: int
) -> str:
    """The comparison as Markdown: heading, diff table, fingerprint note, one verdict line per failure."""
    parts = [
        f"## Comparing `{args.old}` (run {old.run_id}) with `{args.new}` (run {new.run_id})",
        to_markdown(diff_table(old, new)),
    ]
    if old.fingerprint_id != new.fingerprint_id:
        parts.append(
            f"note: fingerprints differ ({old.fingerprint_id} vs {new.fingerprint_id}); "
            "absolute latency not compared"
        )
    verdict = [f"- REGRESSION {check.message}" for check in failed]
    parts.append("\n".join(verdict) or f"no regression in {shared} common variant(s)")
    return "\n\n".join(parts) + "\n"


def _merge(args: argparse.Namespace) -> int:
    """``harness merge``: merged.md printed, every file written listed on stderr."""
    written = write_merge(args.results, _output_dir(args.out))
    print(written[0].read_text(encoding="utf-8"), end="")
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    return EXIT_OK


def _publish(args: argparse.Namespace) -> int:
    """``harness publish``: the release folder and its runs."""
    release = publish(args.version, args.reports, args.runs, force=args.force)
    state = "unchanged (identical release already published)" if release.unchanged else "published"
    print(f"release {args.version} {state}: {release.path / 'index.html'}")
    for entry in release.entries:
        print(f"  {entry.run_id}: {entry.variants} variant(s), {entry.passed} passed, {entry.failed} failed")
    return EXIT_OK


def _init(args: argparse.Namespace) -> int:
    """``harness init``: check the files, write the config, print what was checked."""
    from harness.starter import init  # loads the checkpoint: only this command needs torch

    today = datetime.date.today().isoformat()
    for line in init(args.weights, args.data, args.out, force=args.force, date=today):
        print(line)
    return EXIT_OK


SUITES = "harness.suites"
PLUGIN = "harness.plugin"


def pytest_args(args: Sequence[str], cwd: Path) -> list[str]:
    """The pytest command line of ``harness run ARGS``: the installed suites, rooted at ``cwd``.

    ``--rootdir`` comes first so that one given in ``args`` wins; ``-p harness.plugin`` names the
    plugin its entry point registers (the same name: never registered twice), so the run works
    with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` set too.
    """
    return [f"--rootdir={cwd}", "-p", PLUGIN, "--pyargs", SUITES, *args]


def run(args: Sequence[str], cwd: Path | None = None) -> int:
    """``harness run``: pytest on the installed suites, in a child process; pytest's exit status.

    A child, not ``pytest.main`` here: this process has imported the harness already, so pytest
    could not assertion-rewrite its plugin and would warn about it on every run.
    """
    folder = (cwd or Path.cwd()).absolute()
    return _call([sys.executable, "-m", "pytest", *pytest_args(args, folder)], folder)


def _call(command: list[str], cwd: Path) -> int:
    """Run ``command`` in ``cwd`` and return its exit status. Ctrl-C reaches the child as well (same
    process group): pytest stops, reports what it has and exits on its own, so wait for it."""
    with subprocess.Popen(command, cwd=cwd) as child:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``harness`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:  # pytest parses its own options: -k, --benchmark-compare, --help, ...
        return run(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except HarnessError as exc:
        message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        print(f"harness: error: {message}", file=sys.stderr)  # one line, even for a library's long message
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
