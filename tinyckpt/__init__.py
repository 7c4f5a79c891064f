"""tinyckpt: a small, reliable PyTorch checkpoint module.

Layout on disk (no sidecar metadata; run name and epoch are read from the path)::

    <base_dir>/<run_name>/checkpoints/trainer_epoch_<N>.pt   trainer-state dict (None if not given)
    <base_dir>/<run_name>/checkpoints/agent_epoch_<N>.pt     the agent (any picklable object)

Guarantees, and how each is achieved:

- *Latest is the highest epoch parsed from the file name*, never mtime and never string order
  (epoch 10 beats 9). Only names that fully match ``agent_epoch_<N>.pt``, with N written exactly
  as ``f"{epoch:d}"`` writes it (no ``+``, no leading zeros), count; temp files and directories,
  ``.yaml`` sidecars, ``trainer_epoch_<N>.pt`` and anything else are ignored.
- *An epoch is complete when its agent file exists.* ``save_checkpoint`` writes the trainer file
  first and the agent file last, so no reader sees an epoch before both of its files are in
  place. (Re-saving an epoch that already exists replaces its trainer file, then its agent file;
  a crash between those two renames pairs the new trainer state with the old agent. Training
  loops whose epochs only grow never hit this.)
- *Saves are atomic*: each file is written by plain ``torch.save`` into a fresh temp directory
  inside the checkpoints directory (``.tmp-<random>``, a name no checkpoint can have), then
  moved onto its final name with ``os.replace`` (same file system, so atomic). A crash, even
  SIGKILL, mid-save never leaves a truncated file under a final name, and the previous latest
  stays loadable. If ``torch.save`` raises, the temp directory is removed; only a killed
  process leaves one behind, and listing ignores it (delete ``.tmp-*`` at leisure).
- *Permissions follow the umask like a plain ``torch.save``*: the file is created by
  ``torch.save`` itself (mode 0666 & ~umask) and ``os.replace`` keeps the mode, unlike a
  ``tempfile.mkstemp`` file (always 0600).
- *A truncated or corrupt file raises* ``RuntimeError("tinyckpt: cannot load <path>: <cause>")``
  with the original exception chained. There is no fallback to an older epoch and no silent
  ``None``: ``None`` only ever means "this run has no (complete) checkpoint".
- *Unsafe run names are refused* with ``ValueError``: empty, ``.``, ``..``, or anything
  containing ``/``, ``\\`` or NUL (so absolute paths too). A run never leaves ``base_dir``.
- No fsync: a finished save survives a crash of the process, not necessarily a power loss.

Security: loading calls ``torch.load(path, map_location=..., weights_only=...)`` with both passed
through explicitly. The default ``weights_only=False`` is what loading a whole ``nn.Module``
needs, and it UNPICKLES ARBITRARY CODE: only load checkpoints you, or someone you trust, wrote.
Pass ``weights_only=True`` for checkpoints holding only tensors, state dicts and plain data.

torch.distributed: when a default process group is initialized, ``save_checkpoint`` writes only
on rank 0 and returns the same path on every rank, so it may be called on all ranks (or on rank 0
only). It does not synchronize: call ``torch.distributed.barrier()`` after it before other ranks
load. Loading works on every rank (all ranks must see the same file system).
"""
import os
import re
import tempfile
from pathlib import Path

import torch

# A whole agent file name, exactly as f"agent_epoch_{epoch:d}.pt" writes it. The look-arounds make a
# match end at NUL or the string's ends, so it also finds whole names in a "\0"-joined listing.
_AGENT = re.compile(r"(?<![^\0])agent_epoch_(0|-?[1-9][0-9]*)\.pt(?![^\0])")


def _epochs(d) -> list[int]:
    """Ascending epochs of the complete checkpoints (agent files) in directory ``d``; [] if none.

    One regex pass over the NUL-joined listing (NUL cannot occur in file names): about 3x faster
    than matching name by name, which matters for runs with thousands of checkpoints.
    """
    return sorted(map(int, _AGENT.findall("\0".join(os.listdir(d) if os.path.isdir(d) else ()))))


def _load(path, map_location, weights_only):
    """``torch.load`` with explicit pass-through; any failure is re-raised naming the file."""
    try:
        return torch.load(path, map_location=map_location, weights_only=weights_only)
    except Exception as e:
        raise RuntimeError(f"tinyckpt: cannot load {path}: {type(e).__name__}: {e}") from e


class TinyCheckpointManager:
    """Checkpoints of one run, in ``<base_dir>/<run_name>/checkpoints`` (see the module docstring).

    ``ValueError`` for run names that could leave ``base_dir``: empty, ``.``, ``..``, or containing
    ``/``, ``\\`` or NUL (so absolute paths too). Attributes: ``run_name`` (str), ``base_dir`` and
    ``checkpoint_dir`` (``Path``). Nothing is created on disk before the first save.
    """

    def __init__(self, run_name: str, base_dir="./train_dir"):
        if not re.fullmatch(r"(?!\.\.?\Z)[^/\\\0]+", run_name):
            raise ValueError(f"tinyckpt: unsafe run name {run_name!r}")
        self.run_name, self.base_dir, self.checkpoint_dir = run_name, Path(base_dir), Path(base_dir, run_name, "checkpoints")

    def _path(self, kind: str, epoch: int) -> Path:
        if isinstance(epoch, bool) or not hasattr(epoch, "__index__") or epoch.__index__() < 0:  # ints, numpy ints, 0-d tensors
            raise (ValueError if hasattr(epoch, "__index__") and not isinstance(epoch, bool) else TypeError)(f"tinyckpt: an epoch is an int >= 0, not {epoch!r}")
        return self.checkpoint_dir / f"{kind}_epoch_{epoch.__index__()}.pt"

    def exists(self) -> bool:
        """True when the run has at least one complete checkpoint (an agent file)."""
        return bool(self.list_epochs())

    def list_epochs(self) -> list[int]:
        """Epochs of the complete checkpoints, ascending (parsed from file names, never mtime)."""
        return _epochs(self.checkpoint_dir)

    def load_latest_agent(self, map_location=None, weights_only=False):
        """The agent of the highest epoch, or None when the run has no checkpoint.

        A corrupt or truncated latest file raises RuntimeError naming the file (no fallback).
        ``weights_only=False`` (the default) unpickles arbitrary code: trusted files only.
        """
        return _load(latest_checkpoint(self.checkpoint_dir), map_location, weights_only) if self.exists() else None

    def load_trainer_state(self, epoch=None, map_location=None, weights_only=False) -> dict | None:
        """The trainer-state dict saved with ``epoch`` (default: the latest), plus key ``"epoch"``.

        None when that epoch is not a complete checkpoint or has no trainer state (saved with
        ``trainer_state=None``, or an agent file written by something else without a trainer file).
        Errors and the pickle caveat as for ``load_latest_agent``.
        """
        epochs = [e for e in self.list_epochs() if epoch in (None, e)]  # the asked epoch, or all
        state = _load(path, map_location, weights_only) if epochs and (path := self._path("trainer", epochs[-1])).is_file() else None
        return None if state is None else {**state, "epoch": epochs[-1]}

    def save_checkpoint(self, agent, epoch: int, trainer_state: dict | None = None) -> Path:
        """Atomically save ``agent`` and ``trainer_state`` as ``epoch``; returns the agent path.

        The trainer file is written first (it holds None when ``trainer_state`` is None), the
        agent file last. Under an initialized torch.distributed process group only rank 0
        writes; every rank gets the path back. There is no barrier in here.
        """
        # rank 0 only when a process group is up (is_available() is False on builds without distributed)
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()) or torch.distributed.get_rank() == 0:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.checkpoint_dir, prefix=".tmp-") as tmp:
                for kind, obj in (("trainer", trainer_state), ("agent", agent)):  # agent last: completes it
                    torch.save(obj, os.path.join(tmp, kind))
                    os.replace(os.path.join(tmp, kind), self._path(kind, epoch))
        return self._path("agent", epoch)


def run_exists(run_name: str, base_dir="./train_dir") -> bool:
    """True when ``run_name`` has at least one complete checkpoint under ``base_dir``."""
    return TinyCheckpointManager(run_name, base_dir).exists()


def load_latest_agent(run_name: str, base_dir="./train_dir", map_location=None, weights_only=False):
    """``TinyCheckpointManager(run_name, base_dir).load_latest_agent(map_location, weights_only)``."""
    return TinyCheckpointManager(run_name, base_dir).load_latest_agent(map_location, weights_only)


def save_checkpoint(agent, run_name: str, epoch: int, trainer_state=None, base_dir="./train_dir") -> Path:
    """``TinyCheckpointManager(run_name, base_dir).save_checkpoint(agent, epoch, trainer_state)``."""
    return TinyCheckpointManager(run_name, base_dir).save_checkpoint(agent, epoch, trainer_state)


def checkpoint_path(run_name: str, epoch: int, base_dir="./train_dir") -> str:
    """``str`` of the path ``save_checkpoint`` returns: ``<base_dir>/<run_name>/checkpoints/agent_epoch_<epoch>.pt``.

    Pure path arithmetic (nothing is read); like every path here it is ``str(Path(...))``, so a
    leading ``./`` is dropped: ``checkpoint_path("r", 3) == "train_dir/r/checkpoints/agent_epoch_3.pt"``.
    """
    return str(TinyCheckpointManager(run_name, base_dir)._path("agent", epoch))


def parse_checkpoint_path(path_or_uri) -> tuple[str, int]:
    """``(run_name, epoch)`` from ``.../<run>/checkpoints/agent_epoch_<N>.pt`` or its ``file://`` URI.

    Pure string parsing (the file need not exist); ValueError for anything else.
    """
    p = Path(os.fspath(path_or_uri).removeprefix("file://"))
    if (m := _AGENT.fullmatch(p.name)) and p.parent.name == "checkpoints" and p.parent.parent.name not in ("", ".."):
        return p.parent.parent.name, int(m[1])
    raise ValueError(f"tinyckpt: not an agent checkpoint path: {os.fspath(path_or_uri)!r}")


def list_checkpoints(path_or_uri) -> list[str]:
    """Agent checkpoint paths (str), ascending epoch, in a run dir or its checkpoints dir.

    An existing file (or ``file://`` URI of one) gives ``[that path]``; no checkpoints give ``[]``.
    A ``file://`` prefix is stripped as-is (no percent-decoding, as the legacy store did).
    """
    p = Path(os.fspath(path_or_uri).removeprefix("file://"))
    return [str(p)] if p.is_file() else [os.path.join(d, f"agent_epoch_{e}.pt") for d in [p / "checkpoints" if (p / "checkpoints").is_dir() else p] for e in _epochs(d)]


def latest_checkpoint(path_or_uri) -> str:
    """The path (str) of a checkpoint file, or of the highest-epoch agent checkpoint of a run dir /
    checkpoints dir (or ``file://`` URI of either); FileNotFoundError if there is none."""
    if found := list_checkpoints(path_or_uri):
        return found[-1]
    raise FileNotFoundError(f"tinyckpt: no agent checkpoint in {os.fspath(path_or_uri)!r}")
