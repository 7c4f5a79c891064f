"""`tinyckpt-migrate checkpoints`: legacy run directories -> the tinyckpt layout.

A run directory (`<data dir>/<run>/`) is legacy when it holds agent files named
`checkpoints/model_<N>.pt` or a `trainer_state.pt` (in the run directory or in `checkpoints/`):
see `codemods.legacy` for the names. Each agent file of epoch N (the epoch is read from the file
name and checked against the metadata: the record's, the wrapper's, or the `.yaml` sidecar) becomes
`checkpoints/agent_epoch_<N>.pt`; the trainer state becomes `checkpoints/trainer_epoch_<N>.pt` of
the epoch it was saved with, with the keys the migrated code reads (the tables the rules use:
`MANAGER_STATE_KEYS`, `MANAGER_STATE_DROPPED`, `TRAINER_CHECKPOINT_DROPPED`); older epochs get
none (their trainer file holds None, as tinyckpt writes it).

Reading: the legacy record, metadata, trainer-checkpoint and wrapper classes (their modules come
from the configuration's legacy names) are mapped to the plain stand-ins below by an unpickler, so
the legacy modules are never imported and may already be deleted. Any other class in a legacy module
is refused. The agent itself is unpickled normally: its class must import, as for any `torch.load`
(the command adds the current directory and the project root, the directory of the nearest
`pyproject.toml`, at the END of `sys.path`; other layouts need `PYTHONPATH` or an installed package).
This runs pickled code, like any `torch.load(..., weights_only=False)`: convert trusted files only.

Writing (`--write` only) goes through tinyckpt's atomic `save_checkpoint`; each written epoch is
then loaded back and compared with the legacy one (tensor for tensor). Never: a legacy file
modified or deleted, an existing epoch of the new layout overwritten (one that holds the same agent
and trainer state is "unchanged"; anything else is refused), a half-written file. A file that
cannot be read is reported and the rest goes on. A run with agent files but no trainer state is
refused as a whole (its migrated trainer would silently start again at epoch 0) unless
`--without-trainer-state` is given.

Importing this module imports neither LibCST nor torch (`apply`/`diff` call `pending_hint`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pickle
import re
import sys
import types
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from codemods import version
from codemods.config import Config, ConfigError, find_config
from codemods.legacy import (
    LEGACY_AGENT_FILE,
    LEGACY_SIDECAR_SUFFIX,
    LEGACY_TRAINER_FILE,
    MANAGER_STATE_DROPPED,
    MANAGER_STATE_KEYS,
    PICKLED_LEGACY_CLASSES,
    TRAINER_CHECKPOINT_DROPPED,
    WRAPPER_METADATA_CLASS,
)

DEFAULT_DATA_DIR = "train_dir"
_AGENT_FILE = re.compile(LEGACY_AGENT_FILE)

EXIT_CODES = """\
exit codes:
  dry run  0 nothing to do; 1 conversions proposed; 2 errors (files that cannot be converted)
  --write  0 every conversion succeeded (or nothing to do); 2 any failed (or a usage error)
"""

DESCRIPTION = ("Convert legacy run directories (the policy store's records, the half-migrated manager's files) into "
               "the tinyckpt layout: a dry run that lists what each legacy file becomes, or with --write the "
               "conversion. Legacy files are never modified or deleted; an existing epoch is never overwritten.")

NOTES = """\
notes:
  The agents are unpickled with their own classes, so the training code must import: run the command
  from the project root (the current directory and the directory of the nearest pyproject.toml are
  added to the end of sys.path), or set PYTHONPATH. The legacy classes themselves are read through
  stand-ins and never imported. Unpickling runs code: convert trusted files only.
"""

EXAMPLES = """\
examples:
  tinyckpt-migrate checkpoints                  # dry run over ./train_dir: what each legacy file becomes
  tinyckpt-migrate checkpoints --write          # convert (legacy files are kept)
  tinyckpt-migrate checkpoints --write train_dir/my_run --format json
"""


# -- stand-ins for the pickled legacy classes ----------------------------------------------------

class _NotForPickling:
    """Stand-ins must never reach a new checkpoint: pickling one fails with a clear message."""

    legacy_name = "?"

    def __reduce_ex__(self, protocol: int) -> Any:
        raise pickle.PicklingError(f"the agent holds a legacy {self.legacy_name} object, which cannot be saved "
                                   "without its legacy class")


class LegacyObject(_NotForPickling):
    """A pickled legacy object read without its class: its attributes, exactly as pickled."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # only if it was pickled by a constructor call
        self.__dict__.update(kwargs, _args=args)

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)


class LegacyRecord(LegacyObject):
    """The full-legacy record: `_cached_policy` is the agent, `_metadata` its metadata."""

    legacy_name = "record"


class LegacyWrapper(LegacyObject):
    """The half-migrated wrapper: `policy` is the agent, `metadata.epoch` its epoch."""

    legacy_name = "wrapper"


class LegacyTrainerCheckpoint(LegacyObject):
    """The full-legacy trainer checkpoint: its dataclass fields as attributes."""

    legacy_name = "trainer checkpoint"


class LegacyMetadata(_NotForPickling, dict):
    """The full-legacy metadata (a dict subclass): its items as pickled."""

    legacy_name = "metadata"

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):
            self.update(state)


_STANDINS = {"record": LegacyRecord, "metadata": LegacyMetadata, "trainer checkpoint": LegacyTrainerCheckpoint,
             "wrapper": LegacyWrapper}


class _WrapperMetadata(LegacyObject):
    legacy_name = "wrapper metadata"


class ReadError(Exception):
    """A legacy file that cannot be read or converted; the message says why."""


def standin_classes(config: Config) -> dict[tuple[str, str], type]:
    """(module, class name) as pickle records it -> the stand-in, for the configured legacy names."""
    found: dict[tuple[str, str], type] = {}
    for qualified, legacy in config.legacy_names.items():
        module, _, name = qualified.rpartition(".")
        if legacy in PICKLED_LEGACY_CLASSES:
            found[(module, name)] = _STANDINS[PICKLED_LEGACY_CLASSES[legacy]]
        if legacy == "PolicyWrapper":
            found[(module, WRAPPER_METADATA_CLASS)] = _WrapperMetadata
    return found


def legacy_pickle_module(config: Config) -> types.ModuleType:
    """A `pickle_module` for `torch.load` whose unpickler maps the legacy classes to stand-ins."""
    standins = standin_classes(config)

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if (module, name) in standins:
                return standins[(module, name)]
            if config.is_legacy_module(module):
                raise ReadError(f"it pickles {module}.{name}, a legacy class the converter has no stand-in for "
                                "(it reads records, metadata, trainer checkpoints and wrappers only)")
            try:
                return super().find_class(module, name)
            except (ImportError, AttributeError) as exc:
                raise ReadError(f"it pickles {module}.{name}, which cannot be imported ({exc}); run the command "
                                "from the project root, or set PYTHONPATH so that the training code imports") from None

    mod = types.ModuleType("codemods.checkpoints.legacy_pickle")
    mod.Unpickler = Unpickler  # type: ignore[attr-defined]
    mod.load = lambda f, **kw: Unpickler(f, **kw).load()  # type: ignore[attr-defined]  # torch's pre-1.6 format
    return mod


def read_legacy(path: Path, pickle_module: types.ModuleType, map_location: Any = None) -> Any:
    """What a legacy file holds, legacy classes as stand-ins; ReadError naming the cause."""
    import torch

    try:
        return torch.load(path, map_location=map_location, pickle_module=pickle_module, weights_only=False)
    except ReadError:
        raise
    except Exception as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ReadError):
            raise cause from None
        hint = " (truncated or not a torch file?)" if isinstance(exc, (EOFError, pickle.UnpicklingError, RuntimeError)) else ""
        raise ReadError(f"cannot read it{hint}: {type(exc).__name__}: {exc}") from None


# -- what a legacy file means --------------------------------------------------------------------

@dataclass
class _Agent:
    agent: Any
    kind: str  # "record", "wrapper" or "agent" (a bare agent)
    metadata_epoch: Any  # None when the file carries no metadata
    metadata_keys: list[str]


def _attr(obj: Any, name: str) -> Any:
    return (obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None))


def interpret_agent_file(obj: Any) -> _Agent:
    """The agent a legacy agent file holds, and its metadata (ReadError if it holds none)."""
    if isinstance(obj, LegacyRecord):
        state = obj.__dict__
        agent = state.get("_cached_policy")
        meta = state.get("_metadata", state.get("metadata")) or {}
        if agent is None:
            raise ReadError("the record holds no agent (it was saved without one)")
        keys = sorted(str(k) for k in (meta.keys() if isinstance(meta, dict) else vars(meta)) if k != "epoch")
        return _Agent(agent, "record", _attr(meta, "epoch"), keys)
    if isinstance(obj, LegacyWrapper):
        meta = obj.__dict__.get("metadata")
        keys = sorted(k for k, v in (vars(meta).items() if meta is not None else ()) if k not in ("epoch", "_args") and v is not None)
        return _Agent(obj.__dict__.get("policy"), "wrapper", _attr(meta, "epoch"), keys)
    if isinstance(obj, (LegacyObject, LegacyMetadata)):
        raise ReadError(f"it holds a legacy {obj.legacy_name}, not an agent")
    return _Agent(obj, "agent", None, [])


def _same_epoch(value: Any, epoch: int) -> bool:
    """A metadata epoch (int, integral float, or the digits of a sidecar) equals `epoch`."""
    if isinstance(value, str):
        return re.fullmatch(r"-?[0-9]+", value.strip()) is not None and int(value) == epoch
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == epoch


def read_sidecar(path: Path) -> dict[str, str]:
    """The flat `key: value` lines of a half-migrated sidecar (values as written)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReadError(f"cannot read its metadata sidecar {path.name}: {exc}") from None
    return {key: raw.strip() for key, _, raw in (line.partition(": ") for line in text.splitlines()) if key}


def convert_trainer_state(obj: Any) -> tuple[int, dict]:
    """(epoch, the trainer-state dict the migrated code reads) from a legacy trainer state.

    A `TrainerCheckpoint` (pickled, or saved as its fields' dict) keeps its field names minus
    TRAINER_CHECKPOINT_DROPPED; the half-migrated manager's dict is renamed by MANAGER_STATE_KEYS
    minus MANAGER_STATE_DROPPED: the tables the code rules apply to the code that reads them.
    """
    if isinstance(obj, LegacyTrainerCheckpoint):
        fields = {k: v for k, v in obj.__dict__.items() if k != "_args"}
        manager = False
    elif isinstance(obj, dict) and not isinstance(obj, LegacyMetadata) and all(isinstance(k, str) for k in obj):
        fields = dict(obj)
        manager = any(k in fields for k in MANAGER_STATE_KEYS)
    else:
        raise ReadError(f"it holds {type(obj).__name__}, not a trainer state (a dict or a TrainerCheckpoint)")
    epoch = fields.get("epoch")
    if type(epoch) is not int:
        raise ReadError(f"its trainer state has no integer 'epoch' (keys: {', '.join(sorted(fields)) or 'none'})")
    if manager:
        state = {MANAGER_STATE_KEYS.get(k, k): v for k, v in fields.items() if k not in MANAGER_STATE_DROPPED}
    else:
        state = {k: v for k, v in fields.items() if k not in TRAINER_CHECKPOINT_DROPPED}
    return epoch, state


def same(a: Any, b: Any) -> bool:
    """Equal as checkpoints: modules by type and state_dict, tensors by dtype, shape and values."""
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return False
        if (a.dtype, a.shape, a.device) != (b.dtype, b.shape, b.device):
            return False
        if torch.equal(a, b):
            return True
        return a.is_floating_point() and torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num())
    if type(a) is not type(b):
        return False
    if isinstance(a, torch.nn.Module):
        return same(a.state_dict(), b.state_dict())
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:
        return False


# -- finding legacy run directories (a directory listing only) ----------------------------------

def _listdir(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def legacy_agent_files(run_dir: Path) -> dict[str, int]:
    """File name -> epoch of the legacy agent files in `run_dir/checkpoints`."""
    return {name: int(m[1]) for name in _listdir(run_dir / "checkpoints") if (m := _AGENT_FILE.fullmatch(name))}


def legacy_trainer_files(run_dir: Path) -> list[Path]:
    return [p for p in (run_dir / LEGACY_TRAINER_FILE, run_dir / "checkpoints" / LEGACY_TRAINER_FILE) if p.is_file()]


def is_legacy_run(path: Path) -> bool:
    return path.is_dir() and bool(legacy_agent_files(path) or legacy_trainer_files(path))


def find_runs(path: Path) -> list[Path]:
    """The legacy run directories `path` names: itself (or its parent, for a `checkpoints`
    directory) when it is one, otherwise its subdirectories that are."""
    if path.name == "checkpoints" and is_legacy_run(path.parent):
        return [path.parent]
    if is_legacy_run(path):
        return [path]
    return [path / name for name in _listdir(path) if is_legacy_run(path / name)]


def pending_epochs(run_dir: Path) -> list[int]:
    """Epochs of legacy agent files that have no `agent_epoch_<N>.pt` yet (names only)."""
    names = set(_listdir(run_dir / "checkpoints"))
    return sorted(e for e in legacy_agent_files(run_dir).values() if f"agent_epoch_{e:d}.pt" not in names)


def data_dirs(config: Config | None = None, cwd: Path | None = None) -> list[Path]:
    """Where runs live: the configured `data-dir` (relative to the project root), else ./train_dir."""
    if config is not None and config.data_dir:
        return [config.root / config.data_dir]
    return [(cwd or Path.cwd()) / DEFAULT_DATA_DIR]


def pending_hint(config: Config | None = None, cwd: Path | None = None) -> str | None:
    """One line for `apply`/`diff`: how many run directories under ./train_dir and the configured
    data dir still hold legacy checkpoints without a converted counterpart, and the command that
    converts them; None when there are none. A directory listing only (nothing is unpickled)."""
    cwd = cwd or Path.cwd()
    dirs = {d.resolve(): d for d in [cwd / DEFAULT_DATA_DIR, *data_dirs(config, cwd)] if d.is_dir()}
    runs = [run for d in dirs.values() for run in find_runs(d) if pending_epochs(run)]
    if not runs:
        return None
    where = " ".join(_shown(d, cwd) for d in dirs.values())
    noun = "directory still holds" if len(runs) == 1 else "directories still hold"
    return (f"{len(runs)} run {noun} legacy checkpoints under {where}: see "
            f"`tinyckpt-migrate checkpoints {where}`, convert with `tinyckpt-migrate checkpoints --write {where}`")


def _shown(path: Path, cwd: Path | None = None) -> str:
    """`path` relative to the current directory when it is inside it, else absolute."""
    cwd = (cwd or Path.cwd()).resolve()
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(cwd).as_posix() or "."
    except ValueError:
        return str(absolute)


# -- the report ----------------------------------------------------------------------------------

@dataclass
class Conversion:
    run: str
    source: str  # the legacy agent file
    target: str  # agent_epoch_<N>.pt
    epoch: int
    source_kind: str  # "record", "wrapper" or "agent"
    trainer_source: str | None  # the legacy trainer state converted with it, if any
    trainer_target: str  # trainer_epoch_<N>.pt (holds None without a trainer source)
    status: str  # "proposed" (dry run), "converted" (written and verified), "unchanged" (already there)
    dropped_metadata: list[str] = field(default_factory=list)


@dataclass
class Problem:
    run: str
    path: str
    message: str


@dataclass
class Report:
    write: bool
    runs: list[str] = field(default_factory=list)
    conversions: list[Conversion] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(c.status == status for c in self.conversions)

    @property
    def exit_code(self) -> int:
        if self.errors:
            return 2
        return 1 if not self.write and self.count("proposed") else 0

    def as_json(self) -> str:
        return json.dumps({"write": self.write, "runs": self.runs,
                           "conversions": [asdict(c) for c in self.conversions],
                           "errors": [asdict(p) for p in self.errors],
                           "notes": [asdict(p) for p in self.notes], "version": version()}, indent=2) + "\n"

    def as_text(self, paths: Sequence[str] = ()) -> str:
        lines: list[str] = []
        for run in self.runs:
            lines.append(run)
            strip = run.rstrip("/") + "/"
            rel = (lambda p: p[len(strip):] if p.startswith(strip) else p)
            for c in (c for c in self.conversions if c.run == run):
                verb = {"proposed": "convert", "converted": "converted", "unchanged": "unchanged"}[c.status]
                with_state = f", with {rel(c.trainer_source)} -> {rel(c.trainer_target)}" if c.trainer_source else ""
                lines.append(f"  {verb:<9} {rel(c.source)} -> {rel(c.target)}{with_state}")
            lines += [f"  error     {p.path}: {p.message}" for p in self.errors if p.run == run]
            lines += [f"  note      {p.message}" for p in self.notes if p.run == run]
        lines += [f"error: {p.path}: {p.message}" for p in self.errors if p.run == ""]
        where = " ".join(paths)
        runs = f"{len(self.runs)} run director{'y' if len(self.runs) == 1 else 'ies'}"
        if not self.runs and not self.errors:
            lines.append(f"no legacy checkpoints found under {where or DEFAULT_DATA_DIR}")
        elif self.write:
            lines.append(f"{runs}: {self.count('converted')} converted, {self.count('unchanged')} already converted, "
                         f"{len(self.errors)} not converted (errors)")
        else:
            lines.append(f"{runs}: {self.count('proposed')} to convert, {self.count('unchanged')} already converted, "
                         f"{len(self.errors)} cannot be converted (errors); nothing written"
                         + (f" (convert with `tinyckpt-migrate checkpoints --write{' ' + where if where else ''}`)"
                            if self.count("proposed") else ""))
        return "\n".join(lines) + "\n"


# -- converting ----------------------------------------------------------------------------------

@dataclass
class _Options:
    write: bool
    without_trainer_state: bool = False
    map_location: Any = None


@contextmanager
def _importable(*roots: Path) -> Iterator[None]:
    """Put `roots` at the end of sys.path (so the agents' classes import) for the duration."""
    added = [str(r) for r in dict.fromkeys(os.path.abspath(r) for r in roots) if str(r) not in sys.path]
    sys.path.extend(added)
    try:
        yield
    finally:
        for entry in added:
            if entry in sys.path:
                sys.path.remove(entry)


class _RunConversion:
    """Plan (and with `options.write`, do) the conversion of one legacy run directory into `report`."""

    def __init__(self, run_dir: Path, config: Config, options: _Options, report: Report) -> None:
        self.run_dir, self.options, self.report = run_dir, options, report
        self.run = _shown(run_dir)
        self.pickle_module = legacy_pickle_module(config)
        self.dropped: set[str] = set()

    def error(self, path: Path | str, message: str) -> None:
        self.report.errors.append(Problem(self.run, path if isinstance(path, str) else _shown(path), message))

    def note(self, message: str) -> None:
        self.report.notes.append(Problem(self.run, self.run, message))

    def load(self, path: Path) -> Any:
        import torch

        return torch.load(path, map_location=self.options.map_location, weights_only=False)

    def __call__(self) -> None:
        from tinyckpt import TinyCheckpointManager

        self.report.runs.append(self.run)
        try:
            self.manager = TinyCheckpointManager(self.run_dir.name, base_dir=self.run_dir.parent)
        except ValueError as exc:
            return self.error(self.run_dir, f"not converted: {exc}")
        by_epoch: dict[int, list[str]] = {}
        for name, epoch in legacy_agent_files(self.run_dir).items():
            by_epoch.setdefault(epoch, []).append(name)
        for epoch, names in by_epoch.items():
            if len(names) > 1:
                self.error(self.run_dir / "checkpoints" / names[0],
                           f"not converted: {len(names)} legacy files for epoch {epoch} ({', '.join(names)})")
        states = self.trainer_states(by_epoch)
        if states is None:  # it decides which epoch gets it: without it, nothing of the run is converted
            return self.error(self.run_dir, "nothing of this run converted: its trainer state cannot be read, and it "
                                            "decides which epoch it belongs to")
        if by_epoch and states and max(by_epoch) not in states:
            self.note(f"the latest epoch {max(by_epoch)} has no trainer state (it is of epoch {max(states)}): "
                      "the migrated trainer will not resume from it")
        blocked = [epoch for epoch, names in sorted(by_epoch.items()) if len(names) == 1
                   and self.convert_epoch(self.run_dir / "checkpoints" / names[0], epoch, states) == "blocked"]
        if blocked:
            files = ", ".join(f"model_{e:04d}.pt" for e in blocked)
            self.error(self.run_dir, f"not converted ({files}): the run has no trainer state ({LEGACY_TRAINER_FILE} in it "
                                     "or in checkpoints/), so the migrated trainer would start again at epoch 0 over the "
                                     "converted agents; pass --without-trainer-state to convert the agents alone")
        if self.dropped:
            self.note("metadata not carried over (tinyckpt keeps none; the legacy files keep it): "
                      + ", ".join(sorted(self.dropped)))

    def trainer_states(self, by_epoch: dict[int, list[str]]) -> dict[int, tuple[Path, dict]] | None:
        """Epoch -> (legacy file, converted trainer state); None when one cannot be read."""
        states: dict[int, tuple[Path, dict]] = {}
        readable = True
        for path in legacy_trainer_files(self.run_dir):
            try:
                epoch, state = convert_trainer_state(read_legacy(path, self.pickle_module, self.options.map_location))
            except ReadError as exc:
                self.error(path, str(exc))
                readable = False
                continue
            if epoch in states:
                self.error(path, f"not converted: a second trainer state for epoch {epoch} "
                                 f"(the other is {_shown(states[epoch][0])})")
                readable = False
                continue
            states[epoch] = (path, state)
            if epoch not in by_epoch:
                self.error(path, f"not converted: its epoch {epoch} has no agent file (model_{epoch:04d}.pt) to go with")
        return states if readable else None

    def read_agent(self, source: Path, epoch: int) -> _Agent:
        """The agent of a legacy agent file, its epoch checked against its metadata (ReadError)."""
        found = interpret_agent_file(read_legacy(source, self.pickle_module, self.options.map_location))
        meta_epoch = found.metadata_epoch
        sidecar = source.with_suffix(LEGACY_SIDECAR_SUFFIX)
        if sidecar.is_file():
            values = read_sidecar(sidecar)
            found.metadata_keys += sorted(k for k in values if k not in ("epoch", "run_name"))
            meta_epoch = values.get("epoch", meta_epoch)
        if meta_epoch is not None and not _same_epoch(meta_epoch, epoch):
            raise ReadError(f"not converted: its metadata says epoch {meta_epoch}, its name epoch {epoch} "
                            "(rename the file to the right epoch, then run again)")
        return found

    def convert_epoch(self, source: Path, epoch: int, states: dict[int, tuple[Path, dict]]) -> str:
        """Convert one legacy agent file (and the trainer state of its epoch, if any); returns the
        conversion's status, "error", or "blocked" (the run has no trainer state)."""
        target = self.manager.checkpoint_dir / f"agent_epoch_{epoch:d}.pt"
        trainer_target = self.manager.checkpoint_dir / f"trainer_epoch_{epoch:d}.pt"
        trainer_source, state = states.get(epoch, (None, None))
        try:
            found = self.read_agent(source, epoch)
        except ReadError as exc:
            self.error(source, str(exc) + (f"; {_shown(trainer_source)} (of this epoch) not converted either"
                                           if trainer_source else ""))
            return "error"
        self.dropped.update(found.metadata_keys)
        conversion = Conversion(self.run, _shown(source), _shown(target), epoch, found.kind,
                                trainer_source and _shown(trainer_source), _shown(trainer_target), "proposed",
                                found.metadata_keys)
        keep = "not converted, nothing overwritten (move it away to convert)"
        if target.exists():  # never overwritten: the same agent and trainer state is "unchanged", else refused
            try:
                if not same(self.load(target), found.agent):
                    self.error(target, f"exists and holds another agent than {source.name}: {keep}")
                    return "error"
                if state is not None and not trainer_target.is_file():
                    self.error(target, f"exists without {trainer_target.name}, which would hold "
                                       f"{_shown(trainer_source)}: {keep}")
                    return "error"
                if state is not None and not same(self.load(trainer_target), state):
                    self.error(trainer_target, f"exists and holds another trainer state than {_shown(trainer_source)}: {keep}")
                    return "error"
            except Exception as exc:
                self.error(target, f"exists and cannot be read ({type(exc).__name__}: {exc}): {keep}")
                return "error"
            conversion.status = "unchanged"
        elif trainer_target.exists():
            self.error(trainer_target, f"exists without {target.name} (an interrupted save?): {source.name} {keep}")
            return "error"
        elif not states and not self.options.without_trainer_state:
            return "blocked"
        elif self.options.write:
            if not self.write(found.agent, epoch, state, source, target, trainer_target):
                return "error"
            conversion.status = "converted"
        self.report.conversions.append(conversion)
        return conversion.status

    def write(self, agent: Any, epoch: int, state: dict | None, source: Path, target: Path, trainer_target: Path) -> bool:
        """tinyckpt's atomic save, then both files loaded back and compared; False (reported) on failure."""
        try:
            self.manager.save_checkpoint(agent, epoch, state)
        except Exception as exc:
            if not target.exists():
                trainer_target.unlink(missing_ok=True)  # ours: it did not exist before
            self.error(source, f"not converted: saving {target.name} failed: {type(exc).__name__}: {exc}")
            return False
        try:
            if same(self.load(target), agent) and same(self.load(trainer_target), state):
                return True
            cause = ""
        except Exception as exc:
            cause = f" ({type(exc).__name__}: {exc})"
        self.error(target, f"written, but loading it back does not give what {source.name} holds{cause}")
        return False


def convert_run(run_dir: Path, config: Config, options: _Options, report: Report) -> None:
    """Plan (and with `options.write`, do) the conversion of one legacy run directory."""
    _RunConversion(run_dir, config, options, report)()


def convert(paths: Sequence[Path], options: _Options, config: Config | None = None) -> Report:
    """The report of a dry run (or, with `options.write`, of the conversion) over `paths`."""
    report = Report(write=options.write)
    for path in paths:
        try:
            cfg = config or find_config(path)
        except ConfigError as exc:
            report.errors.append(Problem("", _shown(path), str(exc)))
            continue
        root = cfg.root if (cfg.root / "pyproject.toml").is_file() else Path.cwd()
        with _importable(Path.cwd(), root):
            for run_dir in find_runs(path):
                convert_run(run_dir, cfg, options, report)
    return report


# -- the command ---------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="data directories (their run directories are converted) or run directories "
                             f"(default: the configured data-dir, else ./{DEFAULT_DATA_DIR})")
    parser.add_argument("--write", action="store_true", help="convert (default: a dry run that only lists)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text (default) or json: {write, runs, conversions, errors, notes}")
    parser.add_argument("--without-trainer-state", action="store_true",
                        help="also convert the agents of runs that have no trainer state")
    parser.add_argument("--map-location", metavar="DEVICE",
                        help="torch.load's map_location for the legacy files (default: the devices they were saved on)")


def build_subparser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser("checkpoints", help="convert legacy run directories to the tinyckpt layout (dry run by default)",
                            description=DESCRIPTION, epilog=EXAMPLES + "\n" + EXIT_CODES + "\n" + NOTES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return parser


def run_command(args: argparse.Namespace) -> int:
    """`tinyckpt-migrate checkpoints`: print the report, return the exit code."""
    if importlib.util.find_spec("torch") is None:
        sys.stderr.write("tinyckpt-migrate: error: the checkpoints command needs torch (pip install 'tinyckpt[torch]')\n")
        return 2
    try:
        config = find_config(args.paths[0] if args.paths else Path.cwd())
    except ConfigError as exc:
        sys.stderr.write(f"tinyckpt-migrate: error: {exc}\n")
        return 2
    paths = list(args.paths)
    for path in paths:
        if not path.exists():
            sys.stderr.write(f"tinyckpt-migrate: error: {path}: no such file or directory\n")
            return 2
    paths = paths or [d for d in data_dirs(config) if d.is_dir()]
    report = convert(paths, _Options(args.write, args.without_trainer_state, args.map_location),
                     config if not args.paths else None)
    shown = [_shown(p) for p in (args.paths or data_dirs(config))]
    sys.stdout.write(report.as_json() if args.format == "json" else report.as_text(shown))
    return report.exit_code
