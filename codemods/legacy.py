"""What the legacy API is and what it becomes, as data and plain functions: the one place the rules,
`check`, the runner and the checkpoint converter share. Imports no LibCST (so `check` stays light).

- the manual marker (`MARKER_PREFIX`, `marker`);
- module names: `resolve_relative` / `relative_module` (the one relative-import resolver),
  `is_test_file` / `is_test_module`;
- `LegacyNames`: the one legacy-name matcher (the configured table plus re-exports found in the tree);
- `Prefilter`: which files' bytes can mention anything legacy;
- the trainer-state key tables shared by the code rules and the checkpoint converter.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from codemods.config import Config

# -- the manual marker -------------------------------------------------------------------------------

MARKER_PREFIX = "# tinyckpt-migrate: manual: "
NOTE_PREFIX = "# tinyckpt-migrate: decided: "  # above code a decision rewrote (codemods.decisions); not a manual site
# PolicyStore methods that upload to wandb (manual; TCK-M107 remote-uri = not-implemented turns a statement of one into a raise)
STORE_UPLOADS = frozenset({"add_to_wandb_run", "add_to_wandb_sweep", "add_to_wandb_artifact"})


def marker(reason: str) -> str:
    """The one-line marker comment for a manual site."""
    return MARKER_PREFIX + " ".join(reason.split())


# -- module names ---------------------------------------------------------------------------------------

def resolve_relative(name: str, package: str | None) -> str:
    """`..x.Y` seen from package `a.b.c` -> `a.b.x.Y`; absolute names pass through (a relative name
    with no package to resolve against loses its dots)."""
    if not name.startswith("."):
        return name
    dots = len(name) - len(name.lstrip("."))
    return relative_module(dots, name[dots:] or None, package) or name.lstrip(".")


def relative_module(level: int, module: str | None, package: str | None) -> str | None:
    """The absolute module of `from <level dots><module> import ...` in `package` (`ast` style);
    None when the dots climb above the top package (or there is no package to climb from)."""
    if not level:
        return module or ""
    if not package:
        return None
    parts = package.split(".")
    if level - 1 > len(parts) - 1 and level > 1:
        return None
    base = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*base, module] if module else base)


def is_test_file(path: str | os.PathLike[str] | None) -> bool:
    """pytest's files: `test_*.py`, `*_test.py` and `conftest.py` (fixtures are injected by name there)."""
    name = os.path.basename(os.fspath(path or ""))
    return name == "conftest.py" or (name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")))


def is_test_module(module: str) -> bool:
    """A module of a test package, a test file or a conftest, by its dotted name."""
    last = module.rpartition(".")[2]
    return module.split(".")[0] in ("tests", "test") or last.startswith("test_") or last.endswith("_test") \
        or last == "conftest"


# -- legacy names ---------------------------------------------------------------------------------------

class LegacyNames:
    """The one legacy-name matcher: a qualified name (where a name is imported from) -> the legacy
    class it means, from the configured table plus the re-exports found across the tree
    (`metta/rl/__init__.py` importing `SimpleCheckpointManager` makes `metta.rl.SimpleCheckpointManager`
    legacy too; `metta.rl` itself is not a legacy module)."""  # noqa: TCK004 (documents the legacy paths it matches)

    def __init__(self, config: Config, reexports: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.reexports = dict(reexports or {})
        self.names = {**self.reexports, **config.legacy_names}
        self.modules = config.legacy_modules
        self._is_module: dict[str, bool] = {}

    def legacy_class(self, qualified: str) -> str | None:
        return self.names.get(qualified)

    def is_legacy_module(self, module: str) -> bool:
        """A legacy module or a submodule of one (`metta.agent.mocks.x`)."""  # noqa: TCK004
        known = self._is_module.get(module)
        if known is None:
            parts = module.split(".")
            known = self._is_module[module] = any(".".join(parts[:n]) in self.modules for n in range(1, len(parts) + 1))
        return known

    def is_legacy_import(self, qualified: str) -> bool:
        """`from <module> import <name>` / `import <module>` of something legacy (by its qualified name)."""
        return qualified in self.names or self.is_legacy_module(qualified) or \
            self.is_legacy_module(qualified.rpartition(".")[0])

    def words(self) -> frozenset[str]:
        """Names that, imported from anywhere, may be legacy: the classes and the legacy modules' own names."""
        return frozenset({q.rpartition(".")[2] for q in self.names} | {m.rpartition(".")[2] for m in self.modules})


def reexports_of(module: str, imports: Iterable[tuple[str, str]], config: Config) -> dict[str, str]:
    """Qualified name of each re-export a non-legacy module makes -> the legacy class, from its
    module-level `(local name, qualified name)` imports."""
    names = LegacyNames(config)
    if not module or names.is_legacy_module(module):
        return {}
    found = {}
    for local, qualified in imports:
        legacy = config.legacy_class(qualified)
        if legacy:
            found[f"{module}.{local}"] = legacy
    return found


# -- the prefilter ----------------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def cores(needles: tuple[bytes, ...], length: int = 5) -> tuple[bytes, ...]:
    """A few short substrings such that every needle contains one (greedy set cover).

    `bytes.__contains__` is a fast memchr-based search, so four of these scan a file several
    times faster than twenty-odd needles; only files that contain a core are searched for needles.
    """
    left = [n for n in needles if n]
    found: list[bytes] = []
    while left:
        counts: dict[bytes, int] = {}
        for needle in left:
            for sub in {needle[i:i + length] for i in range(max(1, len(needle) - length + 1))}:
                counts[sub] = counts.get(sub, 0) + 1
        best = max(sorted(counts), key=lambda sub: counts[sub])
        found.append(best)
        left = [n for n in left if best not in n]
    return tuple(found)


class Prefilter:
    """Which files' bytes can mention anything legacy (the rest is never parsed).

    "strong": a legacy module's last name (any import form, dotted strings, dynamic and commented-out
    imports spell it) or the marker text; "weak": only legacy class names (they matter once another
    module of the tree re-exports them). A legacy module whose last name is a plain English word
    (`mocks`) counts only in an import context (`.mocks`, `import mocks`, an item of an import list),
    which keeps every `unittest.mock` test that says "mocks" in prose out of the parser.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.all = config.needles
        self.cores = cores(self.all)
        self.tails = frozenset(m.rpartition(".")[2] for m in config.legacy_modules)  # the modules' last names
        tails = {t.encode() for t in self.tails}
        words = {t for t in tails if t.isalpha() and t.islower()}
        self.strong = tuple(sorted((tails - words) | {b"tinyckpt-migrate"}))
        self.names = tuple(n for n in self.all if n not in tails and n != b"tinyckpt-migrate")
        self.words = tuple(sorted(words))
        alternatives = b"|".join(re.escape(w) for w in self.words)
        self.word_context = re.compile(rb"(?:\.|\bimport[ \t]+|[(,][ \t\\\r\n]*)(?:" + alternatives + rb")\b") \
            if words else None

    def classify(self, data: bytes) -> str | None:
        """"strong", "weak" or None (nothing legacy can be in these bytes)."""
        if not any(core in data for core in self.cores):
            return None
        if any(needle in data for needle in self.strong):
            return "strong"
        if self.word_context is not None and any(w in data for w in self.words) and self.word_context.search(data):
            return "strong"
        return "weak" if any(name in data for name in self.names) else None

    def __call__(self, data: bytes) -> bool:
        """True when the bytes may mention anything legacy (strong or weak)."""
        return self.classify(data) is not None


_PREFILTERS: dict[int, Prefilter] = {}


def prefilter_for(config: Config) -> Prefilter:
    """The Prefilter of a Config (built once per Config object)."""
    found = _PREFILTERS.get(id(config))
    if found is None or found.config is not config:
        if len(_PREFILTERS) > 32:
            _PREFILTERS.clear()
        found = _PREFILTERS[id(config)] = Prefilter(config)
    return found


def word_pattern(words: Sequence[str]) -> re.Pattern[bytes] | None:
    """A regex for any of these identifiers as a whole word (None for no words)."""
    if not words:
        return None
    return re.compile(rb"\b(?:" + b"|".join(re.escape(w.encode()) for w in sorted(set(words))) + rb")\b")


# -- trainer-state tables (the code rules and the checkpoint converter read the same map) ---------------

#: SimpleCheckpointManager's trainer-state keys -> the keys the migrated code saves and reads
#: (`save_agent` + `save_trainer_state` become one `save_checkpoint(agent, epoch, {...})`).
MANAGER_STATE_KEYS = {"optimizer_state": "optimizer"}

#: TrainerCheckpoint fields the migrated save leaves out of the trainer-state dict: tinyckpt adds
#: "epoch" itself, and the path of the agent file is the checkpoint itself.
TRAINER_CHECKPOINT_DROPPED = ("epoch", "policy_path")

#: SimpleCheckpointManager's trainer-state keys the migrated dict leaves out: the epoch given to
#: `save_trainer_state` becomes `save_checkpoint`'s epoch argument (tinyckpt adds "epoch" on load).
MANAGER_STATE_DROPPED = ("epoch",)

# -- the legacy files on disk (read by `tinyckpt-migrate checkpoints`) ----------------------------

#: An agent file in `<run>/checkpoints/`, both legacy states (written as `model_{epoch:04d}.pt`;
#: the epoch is read from the name). The full-legacy store pickles a whole record in it, the
#: half-migrated manager the bare agent.
LEGACY_AGENT_FILE = r"model_(\d+)\.pt"

#: The half-migrated manager's metadata sidecar beside each agent file (`model_0004.yaml`): flat
#: `key: value` lines, `epoch` among them.
LEGACY_SIDECAR_SUFFIX = ".yaml"

#: The trainer state: the full-legacy `TrainerCheckpoint` in `<run>/`, the half-migrated manager's
#: dict (`MANAGER_STATE_KEYS`) in `<run>/checkpoints/`. It belongs to the epoch it holds.
LEGACY_TRAINER_FILE = "trainer_state.pt"

#: Legacy classes whose pickled instances the converter reads through plain stand-ins, never by
#: importing their (possibly deleted) modules: legacy class -> what it is. The modules come from
#: the configuration's legacy names.
PICKLED_LEGACY_CLASSES = {
    "PolicyRecord": "record",
    "PolicyMetadata": "metadata",
    "TrainerCheckpoint": "trainer checkpoint",
    "PolicyWrapper": "wrapper",
}

#: The metadata class the half-migrated wrapper holds, defined in the wrapper's module.
WRAPPER_METADATA_CLASS = "PolicyWrapperMetadata"
