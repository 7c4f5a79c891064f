"""`tinyckpt-migrate`: the thin command line over the runner (and the `check` scanner)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Sequence, TextIO

from codemods import check_command as _check
from codemods import checkpoints as _checkpoints
from codemods import version
from codemods.config import ConfigError, find_config
from codemods.decisions import parse_decisions
from codemods.files import default_jobs
from codemods.progress import ProgressBar
from codemods.workers import WorkerError

# `diff`/`apply` import the runner (and with it LibCST and the rules) when they run: `check` is
# ast-only, and LibCST's import alone costs about a second on every CI run of `check`.

EXIT_CODES = """\
exit codes:
  diff   0 nothing to do; 1 changes proposed (or manual sites left); 2 usage error or files not processed
  apply  0 wrote the change (or nothing to do); 1 manual sites remain; 2 usage error, files to change
         with uncommitted changes, not in git (see --allow-no-vcs), or files not processed / not written
         (then nothing is deleted); 130 / 143 interrupted (SIGINT / SIGTERM: what was done is listed)
  check  0 nothing legacy found; 1 legacy references or manual markers found; 2 usage error or files
         not processed
  checkpoints  0 nothing to convert (or all converted with --write); 1 conversions proposed (dry run);
         2 files that cannot be converted
"""

EXAMPLES = """\
examples:
  tinyckpt-migrate diff                       # dry run over the current directory: unified diff + summary
  tinyckpt-migrate diff src/ tests/ | less -R # only these paths
  tinyckpt-migrate diff --format json         # {"files_changed", "files_deleted", "sites", "errors"}
  tinyckpt-migrate apply --report MIGRATION.md  # write it; Markdown report of every manual site
  tinyckpt-migrate apply --only policy_metadata  # run one rule (see --list-rules)
  tinyckpt-migrate check --format github      # CI: fail while anything legacy remains
  python -m codemods diff                     # the same, without the console script
"""


def _rule_names(values: Sequence[str] | None) -> list[str]:
    names = [name.strip() for value in values or [] for name in value.split(",")]
    if any(not name for name in names):
        raise ValueError("an empty rule name in --only / --skip (see --list-rules)")
    return names


def _jobs(value: str) -> int:
    try:
        jobs = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if jobs < 0:
        raise argparse.ArgumentTypeError("must be >= 0 (0 = all cores)")
    return jobs or default_jobs()


def _add_migration_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="files or directories (default: the current directory)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text (default) or json: {files_changed, files_deleted, sites, errors}")
    parser.add_argument("--report", type=Path, metavar="FILE",
                        help="also write a Markdown report: every manual site (path:line, reason), "
                             "migrated counts, deleted files")
    parser.add_argument("--jobs", "-j", type=_jobs, default=default_jobs(), metavar="N",
                        help=f"worker processes (default: all cores, {default_jobs()} here; 1 = serial)")
    parser.add_argument("--only", action="append", metavar="RULE", help="run only these rules (repeat or comma-separate)")
    parser.add_argument("--skip", action="append", metavar="RULE", help="do not run these rules")
    parser.add_argument("--decide", action="append", metavar="KIND=CHOICE",
                        help="take a choice for every manual site of a kind (a code such as TCK-M108 or a name such "
                             "as best-checkpoint; all=simple takes every simple choice): docs/migration.md")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour the diff (auto: only on a terminal, and not with NO_COLOR set)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinyckpt-migrate",
        description="Migrate a codebase off the legacy policy store onto tinyckpt, show the change as a "
                    "diff, and keep CI red while anything legacy remains.",
        epilog=EXAMPLES + "\n" + EXIT_CODES + "\nconfiguration:\n  [tool.tinyckpt-migrate] in the pyproject.toml of the project root (the nearest "
               "directory with a\n  pyproject.toml, setup.cfg, setup.py or .git): legacy-names, extra-legacy-names, "
               "target, exclude,\n  delete, data-dir. Documentation: README.md and docs/ in the repository.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--list-rules", action="store_true", help="list the rules, in the order they run, and exit")
    parser.add_argument("--version", action="version", version=f"tinyckpt-migrate {version()}")
    sub = parser.add_subparsers(dest="command", metavar="{diff,apply,check,checkpoints}")
    diff = sub.add_parser("diff", help="dry run: unified diff of every change (deletions included) and a summary",
                          epilog=EXAMPLES + "\n" + EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_migration_options(diff)
    apply = sub.add_parser("apply", help="write the change (atomically, file by file) and delete legacy modules",
                           epilog=EXAMPLES + "\n" + EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_migration_options(apply)
    apply.add_argument("--allow-dirty", action="store_true",
                       help="run even if files it would change or delete have uncommitted changes (other "
                            "uncommitted or untracked files never stop it)")
    apply.add_argument("--allow-no-vcs", action="store_true",
                       help="run outside a git work tree (nothing could undo its writes and deletions)")
    check = sub.add_parser("check", help="CI: report every legacy reference and manual marker left",
                           epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _check.add_check_arguments(check)
    _checkpoints.build_subparser(sub)
    return parser


def _list_rules(out: TextIO) -> int:
    from codemods.runner import RULES

    if not RULES:
        out.write("(no rules registered)\n")
    width = max((len(rule.NAME) for rule in RULES), default=0)
    for rule in RULES:
        out.write(f"{rule.NAME:<{width}}  {getattr(rule, 'DESCRIPTION', '')}\n")
    return 0


def _error(message: str) -> int:
    sys.stderr.write(f"tinyckpt-migrate: error: {message}\n")
    return 2


def _colour(choice: str, stream: TextIO) -> bool:
    if choice != "auto":
        return choice == "always"
    return stream.isatty() and not os.environ.get("NO_COLOR")


def _unwritable(path: Path) -> str | None:
    """Why a report could not be written there, checked before anything else is (None: it can)."""
    parent = path.resolve().parent
    if not parent.is_dir():
        return f"no directory {parent}"
    if path.is_dir():
        return "it is a directory"
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return "permission denied"
    return None


class Interrupted(Exception):
    """SIGINT or SIGTERM while the run computes (nothing written yet)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum, self.name = signum, signal.Signals(signum).name


_STOPS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _signals_raise() -> Iterator[None]:
    """While the run computes, SIGINT and SIGTERM raise `Interrupted` (the workers are stopped on the way out)."""
    def handler(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in _STOPS}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


@contextmanager
def _signals_flag() -> Iterator[list[int]]:
    """While files are written, SIGINT and SIGTERM are noted: the file at hand is finished, the rest not begun."""
    caught: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in _STOPS}
    try:
        yield caught
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def _migrate(args: argparse.Namespace, apply: bool) -> int:
    from codemods import runner
    from codemods.diffing import (
        as_json,
        error_lines,
        kind_lines,
        markdown_report,
        site_lines,
        summary_table,
        unified_diff,
    )

    paths = list(args.paths) or [Path(".")]
    for path in paths:
        if not path.exists():
            return _error(f"{path}: no such file or directory")
        if path.is_file() and path.suffix != ".py":
            return _error(f"{path}: not a Python file (diff and apply migrate .py files)")
    if args.report is not None and (problem := _unwritable(args.report)):
        return _error(f"cannot write report {args.report}: {problem}")
    try:
        config = find_config(paths[0])
        rules = runner.select_rules(_rule_names(args.only), _rule_names(args.skip))
        if args.decide:
            pairs = [value.partition("=") for value in args.decide]
            if any(not sep or not key or not choice for key, sep, choice in pairs):
                raise ValueError("--decide takes KIND=CHOICE (e.g. --decide best-checkpoint=latest)")
            config = replace(config, decisions={**config.decisions, **parse_decisions(
                {key: choice for key, _, choice in pairs}, "--decide")})
    except (ConfigError, ValueError) as exc:
        return _error(str(exc))
    if apply and not args.allow_no_vcs and runner.vcs_status(paths) is None:
        return _error("not in a git work tree: nothing could undo what apply writes and deletes; commit the "
                      "project to git first (then review with `git diff`), or pass --allow-no-vcs")
    bar = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    try:
        with _signals_raise():
            result = runner.run(paths, config, rules=rules, jobs=args.jobs, progress=bar)
    except Interrupted as exc:
        if bar:
            bar.close()
        sys.stderr.write(f"tinyckpt-migrate: interrupted ({exc.name}) before anything was written\n")
        return 128 + exc.signum
    except (OSError, ConfigError, WorkerError) as exc:
        return _error(str(exc))
    finally:
        if bar:
            bar.close()
    applied = None
    if apply:
        dirty = [] if args.allow_dirty else runner.dirty_files(paths, result)
        if dirty:
            shown = "\n".join(f"  {p}" for p in dirty[:20]) + ("\n  ..." if len(dirty) > 20 else "")
            return _error("files apply would change have uncommitted changes; commit or stash them first, so the "
                          "migration can be reviewed with `git diff` (or pass --allow-dirty):\n" + shown)
        for stale in runner.remove_stale_temps(result):
            sys.stderr.write(f"removed  {stale} (left by an interrupted run)\n")
        with _signals_flag() as caught:
            applied = runner.apply_changes(result, stop=lambda: caught[0] if caught else 0)
    out = sys.stdout
    if args.format == "json":
        out.write(as_json(result, applied))
    elif apply:
        assert applied is not None
        for path in applied.written:
            out.write(f"migrated {path}\n")
        for path in applied.deleted:
            out.write(f"deleted  {path}\n")
        for path in applied.removed_dirs:
            out.write(f"removed  {path}\n")
        for line in site_lines(result.manual):
            out.write(f"manual   {line}\n")
        out.write(summary_table(result))
        out.write("".join(line + "\n" for line in kind_lines(result.manual, config.decisions)))
        for line in error_lines(applied.errors):
            sys.stderr.write(line + "\n")
    else:
        diff = unified_diff(result, colour=_colour(args.color, out))
        out.flush()
        out.buffer.write(diff)  # bytes: each file in its own encoding, as a patch must be
        out.buffer.flush()
        if diff:
            out.write("\n")
        out.write(summary_table(result))
        for line in site_lines(result.manual):
            out.write(f"manual   {line}\n")
        out.write("".join(line + "\n" for line in kind_lines(result.manual, config.decisions)))
    if args.format == "json" or not apply:
        for line in error_lines(result.errors):
            sys.stderr.write(line + "\n")
    if applied and applied.skipped and not applied.interrupted:
        sys.stderr.write("tinyckpt-migrate: nothing was deleted, because a file could not be processed or written "
                         "(fix it and run apply again); not deleted:\n"
                         + "".join(f"  {p}\n" for p in applied.skipped))
    if args.report:
        try:
            args.report.write_text(markdown_report(result, applied), encoding="utf-8")
        except OSError as exc:
            return _error(f"cannot write report {args.report}: {exc.strerror or exc}")
    if hint := _checkpoints.pending_hint(config):  # legacy run directories the code change leaves behind
        (out if args.format == "text" else sys.stderr).write(hint + "\n")
    if applied and applied.interrupted:
        name = signal.Signals(applied.interrupted).name
        sys.stderr.write(f"tinyckpt-migrate: interrupted ({name}): {len(applied.written)} written, "
                         f"{len(applied.deleted)} deleted; not done (run apply again to finish):\n"
                         + "".join(f"  {p}\n" for p in [*applied.unwritten, *applied.skipped]))
        return 128 + applied.interrupted
    if result.errors or (applied and applied.errors):
        return 2
    if apply:
        return 1 if result.manual else 0
    return 1 if (result.changes or result.manual) else 0


def _run_check(args: argparse.Namespace) -> int:
    paths = list(getattr(args, "paths", None) or []) or [Path(".")]
    for path in paths:
        if not Path(path).exists():
            return _error(f"{path}: no such file or directory")
        if Path(path).is_file() and Path(path).suffix != ".py" and not (
                getattr(args, "docs", False) and Path(path).suffix.lower() in (".md", ".markdown", ".rst")):
            hint = " (add --docs to check Markdown / reStructuredText)" if Path(path).suffix.lower() in (
                ".md", ".markdown", ".rst") else ""
            return _error(f"{path}: not a Python file{hint}")
    try:
        config = find_config(Path(paths[0]))
    except ConfigError as exc:
        return _error(str(exc))
    return int(_check.run_check(args, config))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.list_rules:
            return _list_rules(sys.stdout)
        if args.command is None:
            parser.print_usage(sys.stderr)
            return _error("a command is required: diff, apply, check or checkpoints (see --help)")
        if args.command == "check":
            return _run_check(args)
        if args.command == "checkpoints":
            return _checkpoints.run_command(args)
        return _migrate(args, apply=args.command == "apply")
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:  # `tinyckpt-migrate diff | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
