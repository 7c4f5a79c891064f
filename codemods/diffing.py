"""How a run is shown: git-style unified diff, per-file summary table, JSON, and the Markdown report."""

from __future__ import annotations

import difflib
import json
from collections import Counter
from typing import Iterable, Mapping

from codemods import version
from codemods.decisions import KINDS, MANUAL, Kind, kind_of
from codemods.engine import Site
from codemods.files import encode_source
from codemods.runner import Applied, Change, FileError, RunResult

_RED, _GREEN, _CYAN, _BOLD, _RESET = b"\033[31m", b"\033[32m", b"\033[36m", b"\033[1m", b"\033[0m"
_NO_NEWLINE = b"\\ No newline at end of file\n"


def _lines(data: bytes) -> list[bytes]:
    """Lines split on `\n` only, as git does (CRLF stays CRLF; form feeds are not line breaks);
    a missing final newline is marked git's way."""
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1] + b"\n" + _NO_NEWLINE)
    return lines


def _hunks(old: bytes, new: bytes) -> list[bytes]:
    out: list[bytes] = []
    for line in difflib.diff_bytes(difflib.unified_diff, _lines(old), _lines(new), n=3, lineterm=b"\n"):
        if line.startswith((b"---", b"+++")) and not out:
            continue
        if line.endswith(_NO_NEWLINE) and line != _NO_NEWLINE:  # difflib kept the marker glued on
            out.extend([line[: -len(_NO_NEWLINE)], _NO_NEWLINE])
        else:
            out.append(line)
    return out


def file_diff(change: Change) -> bytes:
    """One file's git-style diff, in the file's own bytes (its encoding, BOM and line endings), so that
    `git apply` and `patch -p1` accept it for every file."""
    a, b = f"a/{change.path}".encode(), f"b/{change.path}".encode()
    head = [b"diff --git " + a + b" " + b + b"\n"]
    if change.deleted:
        head += [f"deleted file mode {change.mode:o}\n".encode(), b"--- " + a + b"\n", b"+++ /dev/null\n"]
        return b"".join(head + _hunks(change.old_bytes, b""))
    head += [b"--- " + a + b"\n", b"+++ " + b + b"\n"]
    return b"".join(head + _hunks(change.old_bytes, encode_source(change.new_text or "", change.encoding)))


def colourize(diff: bytes) -> bytes:
    out = []
    for line in diff.splitlines(keepends=True):
        body, end = (line[:-1], b"\n") if line.endswith(b"\n") else (line, b"")
        if line.startswith((b"diff --git", b"--- ", b"+++ ", b"deleted file mode")):
            out.append(_BOLD + body + _RESET + end)
        elif line.startswith(b"@@"):
            out.append(_CYAN + body + _RESET + end)
        elif line.startswith(b"+"):
            out.append(_GREEN + body + _RESET + end)
        elif line.startswith(b"-"):
            out.append(_RED + body + _RESET + end)
        else:
            out.append(line)
    return b"".join(out)


def unified_diff(result: RunResult, colour: bool = False) -> bytes:
    """Every change of the run, rewrites and deletions, in path order (bytes: each file in its encoding)."""
    data = b"".join(file_diff(c) for c in sorted(result.changes, key=lambda c: c.path))
    return colourize(data) if colour else data


# -- summaries -------------------------------------------------------------------------------------

def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _per_file(result: RunResult) -> list[tuple[str, int, int, bool]]:
    migrated = Counter(s.path for s in result.migrated)
    manual = Counter(s.path for s in result.manual)
    deleted = {c.path for c in result.deleted}
    paths = sorted(set(migrated) | set(manual) | deleted | {c.path for c in result.changed})
    return [(p, migrated[p], manual[p], p in deleted) for p in paths]


def summary_table(result: RunResult) -> str:
    """Per file: migrated sites, manual sites, deleted; then totals and any errors."""
    rows = _per_file(result)
    lines = []
    if rows:
        width = max(len("file"), *(len(p) for p, *_ in rows))
        lines.append(f"{'file':<{width}}  {'migrated':>8}  {'manual':>6}  {'deleted':>7}")
        lines.append(f"{'-' * width}  {'-' * 8}  {'-' * 6}  {'-' * 7}")
        for path, migrated, manual, deleted in rows:
            lines.append(f"{path:<{width}}  {migrated or '':>8}  {manual or '':>6}  {'yes' if deleted else '':>7}".rstrip())
    lines.append(
        f"{_n(result.files_scanned, 'file')} scanned, {len(result.changed)} changed, {len(result.deleted)} deleted; "
        f"{_n(len(result.migrated), 'site')} migrated, {len(result.manual)} manual"
        + (f"; {_n(len(result.errors), 'file')} could not be processed" if result.errors else "")
    )
    lines.extend(error_lines(result.errors))
    return "\n".join(lines) + "\n"


def as_json(result: RunResult, applied: Applied | None = None) -> str:
    """design.md's object: files_changed, files_deleted, sites (plus `errors`: files not processed, and the
    tool's `version`)."""
    errors = list(result.errors) + (applied.errors if applied else [])
    data = {
        "files_changed": applied.written if applied else [c.path for c in result.changed],
        "files_deleted": applied.deleted if applied else [c.path for c in result.deleted],
        "sites": [{"path": s.path, "line": s.line, "rule": s.rule, "outcome": s.outcome, "message": s.message,
                   "code": _code(s)} for s in result.sites],
        "errors": [{"path": e.path, "line": e.line, "column": e.column, "message": e.message} for e in errors],
        "version": version(),
    }
    return json.dumps(data, indent=2) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_report(result: RunResult, applied: Applied | None = None, title: str = "tinyckpt-migrate report") -> str:
    """A report to paste into a pull request: manual sites first (what a person must decide), then
    what was migrated per file, deleted files, and files that could not be processed."""
    rows = _per_file(result)
    out = [f"# {title}", ""]
    out.append(f"{_n(result.files_scanned, 'file')} scanned: {len(result.changed)} changed, {len(result.deleted)} deleted, "
               f"{_n(len(result.migrated), 'site')} migrated, **{_n(len(result.manual), 'manual site')} left**"
               + (f", {_n(len(result.errors), 'file')} not processed" if result.errors else "") + ".")
    out.append("")
    out += ["## Manual sites (a person must decide)", ""]
    kinds = kind_counts(result.manual)
    if kinds:
        out += ["By kind (docs/migration.md lists each kind's choices: decide a kind once in "
                "`[tool.tinyckpt-migrate.decisions]` or with `--decide CODE=CHOICE`):", "",
                "| kind | sites | choices |", "| --- | ---: | --- |"]
        out += [f"| `{k.code}` {k.name} | {n} | {', '.join(k.choices) or '(manual only)'} |" for k, n in kinds]
        out.append("")
    if result.manual:
        out += ["| where | rule | reason |", "| --- | --- | --- |"]
        out += [f"| [`{s.path}:{s.line}`]({s.path}#L{s.line}) | `{s.rule}` | {_md(s.message)} |" for s in result.manual]
    else:
        out.append("None.")
    out += ["", "## Per file", ""]
    if rows:
        out += ["| file | migrated | manual | deleted |", "| --- | ---: | ---: | :---: |"]
        out += [f"| `{p}` | {m} | {n} | {'yes' if d else ''} |" for p, m, n, d in rows]
    else:
        out.append("Nothing to migrate.")
    by_rule = Counter(s.rule for s in result.migrated)
    if by_rule:
        out += ["", "## Migrated sites by rule", "", "| rule | sites |", "| --- | ---: |"]
        out += [f"| `{rule}` | {count} |" for rule, count in sorted(by_rule.items())]
    if result.deleted:
        out += ["", "## Deleted files", ""]
        out += [f"- `{c.path}`" for c in result.deleted]
    errors = list(result.errors) + (applied.errors if applied else [])
    if errors:
        out += ["", "## Files not processed (left byte-identical)", ""]
        out += [f"- [`{e.path}:{e.line}`]({e.path}#L{e.line}): {_md(e.message)}" for e in errors]
    return "\n".join(out) + "\n"


def error_lines(errors: Iterable[FileError]) -> list[str]:
    """`path:line:col: error: reason` lines (files that could not be processed)."""
    return [f"{e.path}:{e.line}:{e.column}: error: {e.message}" for e in errors]


def site_lines(sites: Iterable) -> list[str]:
    """`path:line:col: rule: message` lines (manual sites, for the terminal)."""
    return [f"{s.path}:{s.line}:{s.column}: {s.rule}: {s.message}" for s in sites]


def _code(site: Site) -> str | None:
    kind = kind_of(site.rule, site.message) if site.outcome == "manual" else None
    return kind.code if kind else None


def kind_counts(manual: Iterable[Site]) -> list[tuple[Kind, int]]:
    """How many manual sites of each kind, in code order."""
    counts = Counter(kind.code for s in manual if (kind := kind_of(s.rule, s.message)))
    return [(k, counts[k.code]) for k in KINDS if counts.get(k.code)]


def kind_lines(manual: Iterable[Site], decisions: Mapping[str, str] | None = None) -> list[str]:
    """The manual sites by kind, for the terminal (kinds with choices say how to take one; a kind already
    decided says its sites do not fit the choice)."""
    found = kind_counts(manual)
    if not found:
        return []
    lines = ["manual sites by kind (decide a kind once: docs/migration.md):"]
    for kind, count in found:
        taken = (decisions or {}).get(kind.code, MANUAL)
        how = f"  decided {taken}: these sites do not fit it" if taken != MANUAL else \
            f"  --decide {kind.code}={'|'.join(kind.choices)}" if kind.choices else ""
        lines.append(f"  {kind.code} {kind.name:<22} {count:>4}{how}")
    if any(kind.choices and (decisions or {}).get(kind.code, MANUAL) == MANUAL for kind, _ in found):
        lines.append("  (--decide all=simple takes every kind's simple choice; `diff` shows what they write)")
    return lines
