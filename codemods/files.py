"""Files: which ones to look at, reading them byte-exactly, writing them atomically, and a parallel map.

Everything here is about bytes on disk; nothing here knows about rules.
"""

from __future__ import annotations

import io
import os
import re
import stat
import subprocess
import tempfile
import tokenize
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence, TypeVar

from codemods.config import ROOT_MARKERS, Config
from codemods.workers import Calls, Pool

T = TypeVar("T")
R = TypeVar("R")

#: Directory names never walked into (virtual envs, build output, caches, VCS metadata).
SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", ".venv", "venv", "build", "dist", "__pycache__", "node_modules",
    ".tox", ".nox", ".eggs", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis",
})
PYTHON_SUFFIXES = (".py",)


class SourceError(Exception):
    """A file that cannot be read or decoded; `str(exc)` is the reason, for the report, and
    `line`/`column` (1-based) say where, when it is known (else the start of the file)."""

    def __init__(self, reason: str, line: int = 1, column: int = 1) -> None:
        super().__init__(reason)
        self.line, self.column = line, column


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a byte offset."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, offset - line_start + 1


# -- walking ---------------------------------------------------------------------------------------

def glob_regex(pattern: str) -> re.Pattern[str]:
    """A gitignore-flavoured glob: `**` spans directories, `*` and `?` do not cross `/`.

    A pattern without a `/` matches a single path component anywhere (`migrations`, `*_pb2.py`);
    a pattern also matches everything below a directory it matches (`fixtures` = `fixtures/**`).
    """
    pattern = pattern.strip().rstrip("/")
    anchored = "/" in pattern
    pattern = pattern.lstrip("/").removeprefix("./")
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    body = "".join(out)
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(rf"{prefix}{body}(?:/.*)?\Z", re.DOTALL)


class _Excluder:
    """`config.exclude` globs, matched against paths relative to `config.root`."""

    def __init__(self, config: Config, disabled: Iterable[str] = ()) -> None:
        self.root = os.path.realpath(config.root)
        off = set(disabled)
        self.patterns = [(p, glob_regex(p)) for p in config.exclude if p.strip() and p not in off]

    def relative(self, real_path: str) -> str | None:
        rel = os.path.relpath(real_path, self.root)
        if rel == "." or rel.startswith(".." + os.sep) or rel == ".." or os.path.isabs(rel):
            return None
        return rel.replace(os.sep, "/")

    def matching(self, real_path: str) -> list[str]:
        rel = self.relative(real_path)
        if rel is None:
            return []
        return [p for p, rx in self.patterns if rx.match(rel)]

    def excluded(self, real_path: str) -> bool:
        rel = self.relative(real_path)
        return rel is not None and any(rx.match(rel) for _, rx in self.patterns)


@lru_cache(maxsize=None)
def _git_toplevel(directory: str) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=directory, capture_output=True,
                             text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return os.path.realpath(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


@lru_cache(maxsize=None)
def _git_ignored(toplevel: str) -> tuple[frozenset[str], frozenset[str]]:
    """(ignored files, ignored directories) of a repository, as real absolute paths. Asked once."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory"],
            cwd=toplevel, capture_output=True, timeout=300,
        )
    except (OSError, subprocess.SubprocessError):
        return frozenset(), frozenset()
    if out.returncode != 0:
        return frozenset(), frozenset()
    files, dirs = set(), set()
    for entry in out.stdout.decode("utf-8", "surrogateescape").split("\0"):
        if not entry:
            continue
        if entry.endswith("/"):
            dirs.add(os.path.join(toplevel, entry.rstrip("/")))
        else:
            files.add(os.path.join(toplevel, entry))
    return frozenset(files), frozenset(dirs)


def _ignored_sets(real_dir: str) -> tuple[frozenset[str], frozenset[str]]:
    top = _git_toplevel(real_dir)
    return _git_ignored(top) if top else (frozenset(), frozenset())


def _walk(top: str, config: Config, suffixes: tuple[str, ...]) -> Iterable[str]:
    real_top = os.path.realpath(top)
    # A directory the user names explicitly is walked even if an exclude glob matches it
    # (`tinyckpt-migrate diff fixtures/example` in a project that excludes `fixtures/**`);
    # globs that do not match it still apply below it.
    excluder = _Excluder(config, disabled=_Excluder(config).matching(real_top))
    ignored_files, ignored_dirs = _ignored_sets(real_top)
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        real_dir = real_top + dirpath[len(top):] if dirpath != top else real_top
        keep = []
        for name in dirnames:
            real = os.path.join(real_dir, name)
            if name in SKIP_DIRS or name.endswith(".egg-info") or real in ignored_dirs:
                continue
            if os.path.islink(os.path.join(dirpath, name)) or excluder.excluded(real):
                continue  # never follow a symlink: it may lead out of the tree, or loop
            keep.append(name)
        dirnames[:] = sorted(keep)
        for name in sorted(filenames):
            if not name.endswith(suffixes):
                continue
            path = os.path.join(dirpath, name)
            real = os.path.join(real_dir, name)
            if real in ignored_files or os.path.islink(path) or excluder.excluded(real):
                continue
            yield path


def iter_python_files(paths: Sequence[Path | str], config: Config,
                      suffixes: tuple[str, ...] = PYTHON_SUFFIXES) -> list[Path]:
    """Every Python file under `paths` (default `.`), sorted, each once.

    Skips what git ignores (asked once per repository; no git, no ignoring), virtual envs, build
    output and caches (`SKIP_DIRS`), `config.exclude` globs (relative to `config.root`) and every
    symlink met while walking. A file named explicitly is always included, whatever its name.
    Raises FileNotFoundError for a path that does not exist.
    """
    found: list[Path] = []
    seen: set[str] = set()
    for given in paths or [Path(".")]:
        top = os.fspath(given)
        if os.path.isdir(top):
            candidates: Iterable[str] = _walk(top, config, suffixes)
        elif os.path.exists(top):
            candidates = [top]
        else:
            raise FileNotFoundError(f"{top}: no such file or directory")
        for path in candidates:
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                found.append(Path(path))
    return found


# -- reading and writing ---------------------------------------------------------------------------

def decode_source(data: bytes) -> tuple[str, str]:
    """Text and encoding of a Python file's bytes (BOM / PEP 263 cookie; no newline translation).

    `text.encode(encoding) == data` is guaranteed (else SourceError): writing the text back
    unchanged reproduces the file byte for byte, CRLF, BOM and all.
    """
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise SourceError(f"cannot decode: {exc}") from None
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise SourceError(f"cannot decode as {encoding}: {exc}", *_position(data, exc.start)) from None
    except LookupError as exc:
        raise SourceError(f"cannot decode as {encoding}: {exc}") from None
    try:
        round_trip = text.encode(encoding)
    except UnicodeEncodeError as exc:
        raise SourceError(f"cannot re-encode as {encoding}: {exc}") from None
    if round_trip != data:
        raise SourceError(f"{encoding} does not round-trip byte for byte; left alone")
    return text, encoding


def read_bytes(path: Path | str) -> bytes:
    """The file's bytes; SourceError (with the reason) if it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None


def read_source(path: Path | str) -> tuple[str, str]:
    """(text, encoding) of a Python file, exactly as on disk; SourceError if unreadable/undecodable."""
    return decode_source(read_bytes(path))


def encode_source(text: str, encoding: str) -> bytes:
    """The bytes to write for `text` (a BOM comes back for `utf-8-sig`)."""
    return text.encode(encoding)


def write_atomic(path: Path | str, data: bytes) -> None:
    """Replace a file's content all at once: a temp file in the same directory, then `os.replace`.

    The file mode is kept; a symlink is written through (the link stays a link). A process killed
    at any point leaves either the old file or the new one, never half of one.
    """
    target = os.path.realpath(path)
    directory, name = os.path.split(target)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tinyckpt-tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# -- module names ----------------------------------------------------------------

_PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg")


@lru_cache(maxsize=4096)
def _source_root(directory: str, config_root: str) -> str:
    """The directory module names are relative to: the nearest project root at or above
    `directory` (a pyproject.toml / setup.py / setup.cfg), else the configured root."""
    here = directory
    while True:
        if any(os.path.isfile(os.path.join(here, m)) for m in _PROJECT_MARKERS):
            return here
        if here == config_root:
            return config_root
        parent = os.path.dirname(here)
        if parent == here:
            return config_root
        here = parent


@lru_cache(maxsize=65536)
def _root_of(directory: str) -> str | None:
    if any(os.path.exists(os.path.join(directory, m)) for m in ROOT_MARKERS):
        return directory
    parent = os.path.dirname(directory)
    return None if parent == directory else _root_of(parent)


def project_root(path: Path | str) -> str | None:
    """The real path of the project a file or directory belongs to: the nearest directory at or above
    it with a pyproject.toml, setup.cfg, setup.py or .git; None when there is none."""
    real = os.path.realpath(path)
    return _root_of(real if os.path.isdir(real) else os.path.dirname(real))


@lru_cache(maxsize=256)
def _real(path: str) -> str:
    return os.path.realpath(path)


@lru_cache(maxsize=65536)
def _dir_parts(directory: str, config_root: str) -> tuple[str, ...] | None:
    """Package parts of a directory relative to its project root; None when outside every root."""
    real = os.path.realpath(directory)
    rel = os.path.relpath(real, _source_root(real, config_root))
    if rel == os.curdir:
        return ()
    if rel.startswith(os.pardir):
        return None
    return tuple(rel.split(os.sep))


def module_name_for(path: Path | str, config: Config) -> str:
    """Dotted module name of a file: relative to its project root (the nearest directory with a
    pyproject.toml / setup.py / setup.cfg, else `config.root`), a leading `src.` stripped,
    `pkg/__init__.py` -> `pkg`. A file outside every root is named by its stem.

    Cached per directory: cheap enough to call for every file of a large tree."""
    directory, name = os.path.split(os.path.abspath(path))
    parts = list(_dir_parts(directory, _real(os.fspath(config.root))) or ())
    for suffix in (".pyi", ".py"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    parts.append(name)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    if parts[0] == "src" and len(parts) > 1:
        parts.pop(0)
    return ".".join(parts)


def is_package_file(path: Path | str) -> bool:
    return os.path.basename(path) in ("__init__.py", "__init__.pyi")


# -- parallel map ----------------------------------------------------------------------------------

def default_jobs() -> int:
    return os.cpu_count() or 1


def parallel_map(fn: Callable[[T], R], items: Sequence[T], jobs: int | None = None,
                 progress: Callable[[int], None] | None = None, min_parallel: int = 64) -> list[R]:
    """`[fn(x) for x in items]`, spread over `jobs` processes (default: all cores), in order.

    `fn` must be picklable (a module-level function or a `functools.partial` of one). Runs serially
    when `jobs == 1` or there are fewer than `min_parallel` items (processes cost more than they
    save then). `progress(n)` is called as items are done. The workers are codemods.workers': an
    exception or an interrupt stops them at once.
    """
    jobs = default_jobs() if not jobs or jobs < 1 else jobs
    items = list(items)
    if jobs == 1 or len(items) < min_parallel:
        results = []
        for item in items:
            results.append(fn(item))
            if progress:
                progress(1)
        return results
    with Pool(Calls, min(jobs, len(items))) as pool:
        return pool.run("call", fn, items, progress=progress)
