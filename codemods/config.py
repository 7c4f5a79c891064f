"""What is legacy, what replaces it, and what to skip: defaults plus `[tool.tinyckpt-migrate]`."""

from __future__ import annotations

import keyword
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from codemods.decisions import DecisionError, parse_decisions

# Qualified name (where a name is imported from) -> the legacy class it means.
# `metta.sim.policy_wrapper.PolicyRecord` is that module's alias `PolicyRecord = PolicyWrapper`.
DEFAULT_LEGACY_NAMES: Mapping[str, str] = {
    "metta.agent.policy_store.PolicyStore": "PolicyStore",
    "metta.agent.policy_store.PolicySelectorConfig": "PolicySelectorConfig",
    "metta.agent.policy_store.PolicySelectorType": "PolicySelectorType",
    "metta.agent.policy_store.PolicyMissingError": "PolicyMissingError",
    "metta.agent.policy_store.PolicyRecord": "PolicyRecord",
    "metta.agent.policy_record.PolicyRecord": "PolicyRecord",
    "metta.agent.policy_metadata.PolicyMetadata": "PolicyMetadata",
    "metta.agent.policy_cache.PolicyCache": "PolicyCache",
    "metta.agent.mocks.MockPolicyRecord": "MockPolicyRecord",
    "metta.agent.mocks.mock_policy_record.MockPolicyRecord": "MockPolicyRecord",
    "metta.rl.simple_checkpoint_manager.SimpleCheckpointManager": "SimpleCheckpointManager",
    "metta.sim.simple_policy_store.SimplePolicyStore": "SimplePolicyStore",
    "metta.sim.policy_wrapper.PolicyWrapper": "PolicyWrapper",
    "metta.sim.policy_wrapper.PolicyRecord": "PolicyWrapper",
    "metta.rl.trainer_checkpoint.TrainerCheckpoint": "TrainerCheckpoint",
}

#: The legacy classes the tool knows how to reason about (values of the names table).
LEGACY_CLASSES = frozenset(DEFAULT_LEGACY_NAMES.values())

CONFIG_TABLE = "tinyckpt-migrate"


class ConfigError(ValueError):
    """`[tool.tinyckpt-migrate]` is malformed."""


@dataclass(frozen=True)
class Config:
    """Everything the migration table names, configurable per project."""

    legacy_names: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_LEGACY_NAMES))
    target: str = "tinyckpt"  # the module the new names are imported from
    exclude: tuple[str, ...] = ()  # globs, relative to `root`
    delete: tuple[str, ...] = ()  # extra files to delete (globs, relative to `root`)
    root: Path = Path(".")  # where the pyproject.toml was found (or the cwd)
    data_dir: str | None = None  # where the runs live, relative to `root` (None: ./train_dir of the cwd)
    decisions: Mapping[str, str] = field(default_factory=dict)  # kind code -> choice (codemods.decisions)

    @property
    def legacy_modules(self) -> frozenset[str]:
        """Every module that defines or re-exports a legacy name."""
        return frozenset(qn.rpartition(".")[0] for qn in self.legacy_names)

    def legacy_class(self, qualified_name: str) -> str | None:
        """The legacy class a qualified name refers to, or None."""
        return self.legacy_names.get(qualified_name)

    def is_legacy_module(self, module: str) -> bool:
        """True for a legacy module or a submodule of one (`metta.agent.mocks.x`)."""  # noqa: TCK004 (documents the legacy paths it matches)
        return any(module == m or module.startswith(m + ".") for m in self.legacy_modules)

    @property
    def needles(self) -> tuple[bytes, ...]:
        """Byte strings at least one of which any file that mentions legacy code contains."""
        names = {qn.rpartition(".")[2] for qn in self.legacy_names}
        names |= {m.rpartition(".")[2] for m in self.legacy_modules}
        names.add("tinyckpt-migrate")
        return tuple(sorted(n.encode() for n in names))


_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def _dotted(value: object) -> bool:
    """A dotted Python name (`tinyckpt`, `metta.agent.policy_store.PolicyStore`), no keyword in it."""
    return isinstance(value, str) and _DOTTED.fullmatch(value) is not None and \
        not any(keyword.iskeyword(part) for part in value.split("."))


def _strings(table: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"[tool.{CONFIG_TABLE}] {key} must be a list of strings")
    return tuple(value)


def config_from_table(table: Mapping[str, Any], root: Path = Path(".")) -> Config:
    """Build a Config from a parsed `[tool.tinyckpt-migrate]` table.

    Keys: `legacy-names` (qualified name -> legacy class; replaces the defaults),
    `extra-legacy-names` (added to the defaults), `target`, `exclude`, `delete`, `data-dir` (the
    directory of the training runs, relative to the root; `tinyckpt-migrate checkpoints` reads it),
    `decisions` (a table of kind = "choice", or "simple": codemods.decisions).
    """
    known = {"legacy-names", "extra-legacy-names", "target", "exclude", "delete", "data-dir", "decisions"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"[tool.{CONFIG_TABLE}] unknown key(s): {', '.join(unknown)}")
    for key in ("legacy-names", "extra-legacy-names"):
        if not isinstance(table.get(key, {}), dict):
            raise ConfigError(f"[tool.{CONFIG_TABLE}] {key} must be a table of \"qualified.Name\" = \"LegacyClass\"")
    names = dict(table.get("legacy-names", DEFAULT_LEGACY_NAMES))
    names.update(table.get("extra-legacy-names", {}))
    if not names:
        raise ConfigError(f"[tool.{CONFIG_TABLE}] legacy-names is empty: nothing would be migrated")
    for qn, cls in names.items():
        if cls not in LEGACY_CLASSES or "." not in qn or not _dotted(qn):
            raise ConfigError(
                f"[tool.{CONFIG_TABLE}] legacy name {qn!r} -> {cls!r}: expected a dotted name mapped to "
                f"one of {', '.join(sorted(LEGACY_CLASSES))}"
            )
    target = table.get("target", "tinyckpt")
    if not _dotted(target):
        raise ConfigError(f"[tool.{CONFIG_TABLE}] target must be a module name such as \"tinyckpt\" "
                          f"(got {target!r})")
    if any(qn == target or qn.startswith(target + ".") for qn in names):
        raise ConfigError(f"[tool.{CONFIG_TABLE}] target {target!r} is itself named as legacy")
    data_dir = table.get("data-dir")
    if data_dir is not None and (not isinstance(data_dir, str) or not data_dir.strip()):
        raise ConfigError(f"[tool.{CONFIG_TABLE}] data-dir must be a directory name")
    try:
        decisions = parse_decisions(table.get("decisions", {}), f"[tool.{CONFIG_TABLE}] decisions")
    except DecisionError as exc:
        raise ConfigError(str(exc)) from None
    return Config(names, target, _strings(table, "exclude"), _strings(table, "delete"), root, data_dir, decisions)


#: What makes a directory a project's root (the configuration is read from its pyproject.toml, if any).
ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")


def find_config(start: Path) -> Config:
    """The Config of the project `start` belongs to.

    The project root is the nearest directory at or above `start` with a pyproject.toml, setup.cfg,
    setup.py or .git; its pyproject.toml's `[tool.tinyckpt-migrate]` table, if any, configures the run
    (`exclude` and `delete` globs are relative to that root). Without a root, the defaults, rooted at
    `start` (or its parent, for a file).
    """
    start = start.resolve()
    here = start if start.is_dir() else start.parent
    for directory in (here, *here.parents):
        if not any((directory / marker).exists() for marker in ROOT_MARKERS):
            continue
        pyproject = directory / "pyproject.toml"
        if not pyproject.is_file():
            return replace(Config(), root=directory)
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{pyproject}: {exc}") from exc
        table = data.get("tool", {}).get(CONFIG_TABLE, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{pyproject}: [tool.{CONFIG_TABLE}] must be a table")
        return config_from_table(table, directory)
    return replace(Config(), root=here)
