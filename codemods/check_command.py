"""The `check` command: its options and its run (the report in the chosen format, the exit code).

`add_check_arguments(parser)` adds check's options to the `check` subparser (`--format`,
`--no-suppressions`, `--baseline`, `--write-baseline`, `--update-baseline`, `--docs`, `-j/--jobs`,
and the positional `paths`); options the parser already has are left alone. `run_check(args,
config, paths=None, progress=None) -> int` walks `paths` (default `args.paths`, then `.`), prints
the report to stdout (usage errors and baseline notes to stderr) and returns the exit code: 0
nothing found, 1 findings (not suppressed, not in the baseline), 2 usage error or a file that could
not be processed (TCK900). The scanning itself is codemods.check; formats and baselines are
codemods.check_formats.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from codemods.check import ERROR_CODE, Progress, scan_paths
from codemods.check_formats import (
    FORMATS,
    BaselineError,
    filter_baseline,
    render_github,
    render_json,
    render_sarif,
    render_text,
    write_baseline,
)
from codemods.config import Config
from codemods.progress import ProgressBar


def _relative(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        rel = os.path.abspath(path)
    return rel.replace(os.sep, "/")


def _add(parser: argparse.ArgumentParser, *flags: str, **kwargs: Any) -> None:
    """Add an option unless the parser (e.g. a shared parent) already has one of its flags."""
    if not any(flag in parser._option_string_actions for flag in flags):
        parser.add_argument(*flags, **kwargs)


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    """`check`'s own options and its PATH arguments (see the module docstring)."""
    if not any(action.dest == "paths" for action in parser._actions):
        parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                            help="files or directories to check (default: .)")
    _add(parser, "--format", choices=FORMATS, default="text",
         help="output: text (path:line:col: CODE message, default), json, github (workflow annotations), sarif")
    _add(parser, "--no-suppressions", action="store_true",
         help="ignore `# noqa: TCK...` comments")
    _add(parser, "--baseline", metavar="FILE",
         help="report only findings not recorded in FILE (see --write-baseline)")
    _add(parser, "--write-baseline", metavar="FILE",
         help="record every current finding in FILE and exit 0 (teams that migrate in steps)")
    _add(parser, "--update-baseline", action="store_true",
         help="with --baseline FILE: rewrite FILE with the current findings")
    _add(parser, "--docs", action="store_true",
         help="also search Markdown / reStructuredText files for legacy names (TCK200)")
    _add(parser, "-j", "--jobs", type=int, default=None, metavar="N",
         help="worker processes (default: all cores)")


def run_check(args: argparse.Namespace, config: Config,
              paths: Sequence[str | os.PathLike[str]] | None = None, progress: Progress | None = None) -> int:
    """Run `check` as the CLI asks; prints the report, returns the exit code (0, 1 or 2).
    `paths` defaults to `args.paths`, then to `.`; `progress` defaults to the CLI's progress bar
    on a terminal (shown only for runs over a second)."""
    paths = list(paths or getattr(args, "paths", None) or ["."])
    bar = None
    if progress is None and sys.stderr.isatty():
        progress = bar = ProgressBar(sys.stderr)
    try:
        return _run_check(args, config, paths, progress)
    finally:
        if bar is not None:
            bar.close()


def _run_check(args: argparse.Namespace, config: Config, paths: list[str | os.PathLike[str]],
               progress: Progress | None) -> int:
    fmt = getattr(args, "format", None) or "text"
    baseline = getattr(args, "baseline", None)
    write_to = getattr(args, "write_baseline", None)
    if getattr(args, "update_baseline", False):
        if not baseline:
            print("error: --update-baseline needs --baseline FILE", file=sys.stderr)
            return 2
        write_to = baseline
    if fmt not in FORMATS:
        print(f"error: unknown --format {fmt!r} for check (choose from {', '.join(FORMATS)})", file=sys.stderr)
        return 2
    try:
        results, scanned = scan_paths(paths, config, suppressions=not getattr(args, "no_suppressions", False),
                                      docs=bool(getattr(args, "docs", False)), jobs=getattr(args, "jobs", None),
                                      progress=progress)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results = sorted(((replace(f, path=_relative(f.path)), fp) for f, fp in results),
                     key=lambda pair: (pair[0].path, pair[0].line, pair[0].column, pair[0].code, pair[0].name))
    known = 0
    if write_to:
        try:
            count = write_baseline(write_to, results)
        except OSError as exc:
            print(f"error: cannot write baseline {write_to}: {exc}", file=sys.stderr)
            return 2
        print(f"recorded {count} finding{'s' if count != 1 else ''} in baseline {write_to}", file=sys.stderr)
        known = count
        findings = [f for f, _ in results if f.code == ERROR_CODE]
    elif baseline:
        try:
            findings, known = filter_baseline(baseline, results)
        except BaselineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    else:
        findings = [f for f, _ in results]
    if fmt == "json":
        out = render_json(findings, scanned)
    elif fmt == "github":
        out = render_github(findings)
    elif fmt == "sarif":
        prints = {id(f): fp for f, fp in results}
        out = render_sarif(findings, [prints.get(id(f), "") for f in findings])
    else:
        out = render_text(findings, scanned, known)
    sys.stdout.write(out)
    sys.stdout.flush()
    if any(f.code == ERROR_CODE for f in findings):
        return 2
    return 1 if findings else 0

