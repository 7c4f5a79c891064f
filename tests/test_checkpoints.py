"""`tinyckpt-migrate checkpoints`: legacy run directories -> the tinyckpt layout (issue 15).

End to end, for both example projects and in both orders (convert, then migrate the code; migrate
the code, then convert): the legacy code trains a run (its own `tools.train`, in a subprocess,
PYTHONPATH = a copy of the project), the copy's code is replaced by the hand-migrated golden (which is
what `apply` produces byte for byte: test_golden_*.py), the run is converted, and the migrated
`tools.train` resumes it. The conversions run in-process (fast); the examples' package `metta` they
import for the agents' class is dropped from sys.modules afterwards (`project_imports`).

The error cases use small synthetic run directories (torch.nn.Linear agents, pickled stand-ins for
legacy classes under configured module paths), so they need no subprocess.
"""

from __future__ import annotations

import ast
import json
import os
import pickle
import shutil
import subprocess
import sys
import types
from contextlib import contextmanager
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from golden_helpers import decide_half  # noqa: E402

from codemods import checkpoints, cli, runner  # noqa: E402
from codemods.config import Config, ConfigError, config_from_table, find_config  # noqa: E402
from codemods.legacy import (  # noqa: E402
    MANAGER_STATE_DROPPED,
    MANAGER_STATE_KEYS,
    TRAINER_CHECKPOINT_DROPPED,
)
from tinyckpt import TinyCheckpointManager  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LEGACY = {"full": FIXTURES / "legacy_full", "half": FIXTURES / "legacy_half"}
GOLDEN = {"full": FIXTURES / "legacy_full_expected", "half": FIXTURES / "legacy_half_expected"}
RUN = "my_run"
# The key the legacy trainer state keeps the optimizer state under, and the key the migrated code reads.
OPTIMIZER_KEY = {"full": ("optimizer_state_dict", "optimizer_state_dict"), "half": ("optimizer_state", "optimizer")}
DEFAULT = Config()

# The example's own entry point, exactly as `python -m tools.train --run my_run --epochs 4` runs it,
# then (same process, the legacy code's own loaders) the state_dict of every legacy agent, by epoch.
TRAIN = """
import runpy, sys
reference = sys.argv[1]
sys.argv = ["tools.train", "--run", "my_run", "--epochs", "4"]
try:
    runpy.run_module("tools.train", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
import torch
"""
DUMP = {
    "full": """
from metta.agent.policy_store import PolicyStore
records = PolicyStore().policy_records("train_dir/my_run", selector_type="all")
torch.save({pr.metadata.epoch: pr.policy.state_dict() for pr in records}, reference)
""",
    "half": """
from metta.rl.simple_checkpoint_manager import SimpleCheckpointManager
found = SimpleCheckpointManager("train_dir/my_run", "my_run").list_all_checkpoints()
torch.save({c["epoch"]: torch.load(c["path"], weights_only=False).state_dict() for c in found}, reference)
""",
}


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return env


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"), dirs_exist_ok=True)
    return dst


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """kind -> (a copy of the legacy project with train_dir/my_run trained to epoch 4, reference state_dicts)."""
    cache: dict[str, tuple[Path, dict]] = {}

    def get(kind: str) -> tuple[Path, dict]:
        if kind not in cache:
            base = tmp_path_factory.mktemp(f"legacy_{kind}")
            root = _copy(LEGACY[kind], base / "project")
            done = subprocess.run([sys.executable, "-c", TRAIN + DUMP[kind], str(base / "reference.pt")], cwd=root,
                                  env=_env(root), capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr
            cache[kind] = root, torch.load(base / "reference.pt", weights_only=True)
        return cache[kind]

    return get


@pytest.fixture
def project_imports():
    """Restore sys.path and drop the examples' `metta` package (imported for the agents' class) after a test."""

    def drop() -> None:
        for name in [m for m in sys.modules if m == "metta" or m.startswith("metta.")]:
            del sys.modules[name]

    path = list(sys.path)
    drop()
    yield
    sys.path[:] = path
    drop()


def run(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main(["checkpoints", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under `root`: (inode, mtime, bytes); a rewrite (os.replace) changes the inode."""
    return {p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file()}


def legacy_files(root: Path) -> dict[str, bytes]:
    return {k: v[2] for k, v in snapshot(root).items() if "_epoch_" not in k}


def migrate_code(kind: str, project: Path, drop_kept_legacy: bool) -> None:
    """What `apply` does to the code, keeping train_dir: the full example's golden (what `apply` produces
    byte for byte); for the half example, whose golden keeps the manager legacy until its find_* sites
    are decided, the legacy code with those decided, migrated by the runner itself. Optionally also
    delete the legacy modules that stay for the other manual sites (as once a person has resolved them)."""
    for entry in project.iterdir():
        if entry.name != "train_dir":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    if kind == "full":
        _copy(GOLDEN[kind], project)
    else:
        _copy(LEGACY[kind], project)
        decide_half(project)
        result = runner.run([project], find_config(project), jobs=1)
        assert result.errors == [] and runner.apply_changes(result).errors == []
        assert "metta/rl/simple_checkpoint_manager.py" in {Path(c.file).relative_to(project).as_posix() for c in result.deleted}
    if drop_kept_legacy:
        kept = [project / (m.replace(".", "/") + ".py") for m in DEFAULT.legacy_modules]
        assert [p for p in kept if p.exists()], "the golden keeps legacy modules; this should delete them"
        for path in kept:
            path.unlink(missing_ok=True)


def assert_no_legacy_module_imported() -> None:
    assert not [m for m in sys.modules if DEFAULT.is_legacy_module(m)]


# -- end to end: both examples, both orders -----------------------------------------------------

@pytest.mark.parametrize("order", ["apply-then-convert", "convert-then-apply"])
@pytest.mark.parametrize("kind", ["full", "half"])
def test_a_legacy_run_resumes_under_the_migrated_code(kind, order, trained, tmp_path, monkeypatch, capsys, project_imports):
    legacy_project, reference = trained(kind)
    project = _copy(legacy_project, tmp_path / "project")
    run_dir = project / "train_dir" / RUN
    monkeypatch.chdir(project)
    legacy_before = legacy_files(run_dir)
    legacy_state = torch.load(next(run_dir.rglob("trainer_state.pt")), weights_only=True)
    assert sorted(reference) == [2, 4] and legacy_state["epoch"] == 4

    if order == "apply-then-convert":
        migrate_code(kind, project, drop_kept_legacy=True)
    code, out = run(capsys)  # dry run
    trainer_file = "trainer_state.pt" if kind == "full" else "checkpoints/trainer_state.pt"
    assert code == 1, out
    assert "  convert   checkpoints/model_0002.pt -> checkpoints/agent_epoch_2.pt\n" in out
    assert (f"  convert   checkpoints/model_0004.pt -> checkpoints/agent_epoch_4.pt, "
            f"with {trainer_file} -> checkpoints/trainer_epoch_4.pt\n") in out
    assert not list((run_dir / "checkpoints").glob("*_epoch_*")), "a dry run writes nothing"

    code, out = run(capsys, "--write")
    assert code == 0, out
    assert out.count("  converted ") == 2
    assert_no_legacy_module_imported()
    converted = snapshot(run_dir / "checkpoints")
    code, out = run(capsys, "--write")
    assert code == 0 and out.count("  unchanged ") == 2 and "  converted " not in out
    assert snapshot(run_dir / "checkpoints") == converted, "a second --write changes nothing"
    assert legacy_files(run_dir) == legacy_before, "legacy files are never modified"

    if order == "convert-then-apply":
        migrate_code(kind, project, drop_kept_legacy=False)
    # what the migrated code loads: every agent tensor for tensor, and the legacy epoch, step and optimizer
    sys.path.append(str(project))
    manager = TinyCheckpointManager(RUN)
    assert manager.list_epochs() == [2, 4]
    for epoch, state_dict in reference.items():
        agent = torch.load(run_dir / "checkpoints" / f"agent_epoch_{epoch}.pt", weights_only=False)
        assert agent.state_dict().keys() == state_dict.keys()
        assert all(torch.equal(agent.state_dict()[k], v) for k, v in state_dict.items())
    state = manager.load_trainer_state()
    legacy_key, new_key = OPTIMIZER_KEY[kind]
    assert (state["epoch"], state["agent_step"]) == (legacy_state["epoch"], legacy_state["agent_step"])
    assert checkpoints.same(state[new_key], legacy_state[legacy_key])
    assert manager.load_trainer_state(epoch=2) is None, "older epochs get no trainer state"

    before = snapshot(run_dir / "checkpoints")
    done = subprocess.run([sys.executable, "-m", "tools.train", "--run", RUN, "--epochs", "6"], cwd=project,
                          env=_env(project), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    if kind == "full":
        assert f"resuming {RUN} from train_dir/{RUN}/checkpoints/agent_epoch_4.pt at epoch 4" in done.stderr
    else:
        assert f"{RUN}: 2 epochs, now at epoch 6;" in done.stdout
    after = snapshot(run_dir / "checkpoints")
    assert manager.list_epochs() == [2, 4, 6]
    assert {k: v for k, v in after.items() if k in before} == before, "the converted files are not rewritten"
    assert set(after) - set(before) == {"agent_epoch_6.pt", "trainer_epoch_6.pt"}, "only the next epochs are written"
    resumed = manager.load_trainer_state()
    assert resumed["epoch"] == 6 and resumed["agent_step"] == legacy_state["agent_step"] // 4 * 6


# -- one table drives the code rules and the converter ------------------------------------------

def _dataclass_fields(path: Path, name: str) -> list[str]:
    [cls] = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ClassDef) and n.name == name]
    return [s.target.id for s in cls.body if isinstance(s, ast.AnnAssign)]


def _keys_read(path: Path, variable: str) -> set[str]:
    return {n.slice.value for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id == variable
            and isinstance(n.slice, ast.Constant)}


def _keys_saved(path: Path) -> set[str]:
    calls = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)
             and getattr(n.func, "attr", getattr(n.func, "id", None)) == "save_checkpoint"]
    [state] = [a for call in calls for a in call.args if isinstance(a, ast.Dict)]
    return {k.value for k in state.keys}


@pytest.fixture(scope="module")
def decided_half_trainer(tmp_path_factory) -> Path:
    """metta/rl/trainer.py of legacy_half migrated once its find_* sites are decided (the golden keeps it legacy)."""
    project = _copy(LEGACY["half"], tmp_path_factory.mktemp("decided") / "project")
    migrate_code("half", project, drop_kept_legacy=False)
    return project / "metta/rl/trainer.py"


def test_the_converted_trainer_state_has_the_keys_the_migrated_code_saves_and_reads(decided_half_trainer):
    # half migrated: the manager's dict, as save_trainer_state writes it
    epoch, state = checkpoints.convert_trainer_state({"optimizer_state": {"state": {}}, "epoch": 4, "agent_step": 9})
    golden = decided_half_trainer
    assert epoch == 4 and set(state) == _keys_saved(golden) == {"optimizer", "agent_step"}
    assert _keys_read(golden, "trainer_state") == set(state) | {"epoch"}  # tinyckpt adds "epoch"
    assert set(state) == {MANAGER_STATE_KEYS.get(k, k) for k in ("optimizer_state", "epoch", "agent_step")} - set(MANAGER_STATE_DROPPED)

    # full legacy: every TrainerCheckpoint field, as its save() writes it (asdict) or pickled whole
    fields = _dataclass_fields(LEGACY["full"] / "metta/rl/trainer_checkpoint.py", "TrainerCheckpoint")
    epoch, state = checkpoints.convert_trainer_state({f: 4 if f == "epoch" else f for f in fields})
    golden = GOLDEN["full"] / "metta/rl/trainer.py"
    assert epoch == 4 and set(state) == set(fields) - set(TRAINER_CHECKPOINT_DROPPED)
    assert _keys_saved(golden) <= set(state)
    assert _keys_read(golden, "checkpoint") == _keys_saved(golden) | {"epoch"}
    pickled = checkpoints.LegacyTrainerCheckpoint()
    pickled.__setstate__({f: 4 if f == "epoch" else f for f in fields})
    assert checkpoints.convert_trainer_state(pickled) == (epoch, state)


# -- synthetic runs for the error cases ----------------------------------------------------------

def agent(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Linear(3, 2)


def half_run(root: Path, epochs=(2, 4), trainer_epoch: int | None = 4) -> Path:
    """A half-migrated run as SimpleCheckpointManager writes it: bare agents, sidecars, trainer_state.pt."""
    checkpoint_dir = root / "train_dir" / RUN / "checkpoints"
    checkpoint_dir.mkdir(parents=True)
    for epoch in epochs:
        torch.save(agent(epoch), checkpoint_dir / f"model_{epoch:04d}.pt")
        (checkpoint_dir / f"model_{epoch:04d}.yaml").write_text(f"agent_step: {epoch * 8}\nepoch: {epoch}\nrun_name: '{RUN}'\n")
    if trainer_epoch is not None:
        optimizer = torch.optim.Adam(agent(trainer_epoch).parameters())
        torch.save({"optimizer_state": optimizer.state_dict(), "epoch": trainer_epoch, "agent_step": trainer_epoch * 8},
                   checkpoint_dir / "trainer_state.pt")
    return checkpoint_dir.parent


@contextmanager
def importable_classes(**classes: type):
    """Make `module.Class` importable (for pickling) for the duration: each keyword is a module name."""
    for module, cls in classes.items():
        cls.__module__, cls.__qualname__ = module, cls.__name__
        sys.modules[module] = types.ModuleType(module)
        setattr(sys.modules[module], cls.__name__, cls)
    try:
        yield
    finally:
        for module in classes:
            del sys.modules[module]


def legacy_classes():
    """Fresh classes shaped like the legacy record, metadata and store (new objects each call)."""
    class Record:
        pass

    class Meta(dict):
        pass

    class Store:
        pass

    return Record, Meta, Store


CUSTOM_NAMES = """\
[tool.tinyckpt-migrate]
legacy-names = { "acme_records.Record" = "PolicyRecord", "acme_meta.Meta" = "PolicyMetadata", "acme_store.Store" = "PolicyStore" }
"""


def record(meta_epoch: int, policy, store=None):
    Record, Meta, _ = CLASSES
    pr = Record()
    pr.run_name, pr.uri, pr._policy_store, pr._cached_policy = RUN, "file://x", store, policy
    pr._metadata = Meta(epoch=meta_epoch, agent_step=32, score=0.5)
    return pr


CLASSES = legacy_classes()


def test_records_under_configured_module_paths_convert_without_their_modules(tmp_path, monkeypatch, capsys):
    (tmp_path / "pyproject.toml").write_text(CUSTOM_NAMES)
    checkpoint_dir = tmp_path / "train_dir" / RUN / "checkpoints"
    checkpoint_dir.mkdir(parents=True)
    Record, Meta, _ = CLASSES
    optimizer = torch.optim.SGD(agent(4).parameters(), lr=0.1)
    with importable_classes(acme_records=Record, acme_meta=Meta):
        torch.save(record(4, agent(4)), checkpoint_dir / "model_0004.pt")
        torch.save(record(2, agent(2)), checkpoint_dir / "model_0002.pt")
    torch.save({"agent_step": 32, "epoch": 4, "optimizer_state_dict": optimizer.state_dict(), "policy_path": "file://x",
                "stopwatch_state": None, "extra_args": None}, checkpoint_dir.parent / "trainer_state.pt")
    monkeypatch.chdir(tmp_path)

    code, out = run(capsys, "--write", "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["errors"] == [], out
    assert [(c["epoch"], c["source_kind"], c["status"]) for c in report["conversions"]] == [(2, "record", "converted"), (4, "record", "converted")]
    assert not {"acme_records", "acme_meta"} & set(sys.modules), "the legacy modules are never imported"
    manager = TinyCheckpointManager(RUN)
    assert checkpoints.same(manager.load_latest_agent(), agent(4))
    assert manager.load_trainer_state() == {"agent_step": 32, "optimizer_state_dict": optimizer.state_dict(),
                                            "stopwatch_state": None, "extra_args": None, "epoch": 4}
    assert report["conversions"][1]["dropped_metadata"] == ["agent_step", "score"]


def test_a_pickled_wrapper_converts_with_its_metadata_checked(tmp_path, monkeypatch, capsys):
    (tmp_path / "pyproject.toml").write_text('[tool.tinyckpt-migrate]\nlegacy-names = { "acme_wrapper.Wrapper" = "PolicyWrapper" }\n')
    run_dir = half_run(tmp_path, epochs=(), trainer_epoch=4)

    class Wrapper:
        pass

    class PolicyWrapperMetadata:  # the wrapper's metadata class, beside it in its module
        pass

    with importable_classes(acme_wrapper=Wrapper):
        sys.modules["acme_wrapper"].PolicyWrapperMetadata = PolicyWrapperMetadata
        PolicyWrapperMetadata.__module__, PolicyWrapperMetadata.__qualname__ = "acme_wrapper", "PolicyWrapperMetadata"
        for epoch, meta_epoch in ((4, 4), (2, 3)):
            wrapper, wrapper.metadata = Wrapper(), PolicyWrapperMetadata()
            wrapper.policy, wrapper.uri, wrapper.run_name = agent(epoch), None, RUN
            wrapper.metadata.epoch, wrapper.metadata.score, wrapper.metadata.agent_step = meta_epoch, 0.5, None
            torch.save(wrapper, run_dir / "checkpoints" / f"model_{epoch:04d}.pt")
    monkeypatch.chdir(tmp_path)
    code, out = run(capsys, "--write", "--format", "json")
    report = json.loads(out)
    assert code == 2 and "acme_wrapper" not in sys.modules
    assert [(c["epoch"], c["source_kind"], c["dropped_metadata"]) for c in report["conversions"]] == [(4, "wrapper", ["score"])]
    assert [(e["path"], e["message"][:45]) for e in report["errors"]] == [
        ("train_dir/my_run/checkpoints/model_0002.pt", "not converted: its metadata says epoch 3, its")]
    assert checkpoints.same(TinyCheckpointManager(RUN).load_latest_agent(), agent(4))


def test_a_truncated_legacy_file_is_reported_and_the_rest_converted(tmp_path, monkeypatch, capsys):
    run_dir = half_run(tmp_path, epochs=(2, 4, 6), trainer_epoch=6)
    truncated = run_dir / "checkpoints" / "model_0004.pt"
    truncated.write_bytes(truncated.read_bytes()[:300])
    before = legacy_files(run_dir)
    monkeypatch.chdir(tmp_path)

    code, out = run(capsys)
    assert code == 2
    assert ("  error     train_dir/my_run/checkpoints/model_0004.pt: cannot read it (truncated or not a torch file?): "
            "RuntimeError: PytorchStreamReader failed") in out
    code, out = run(capsys, "--write")
    assert code == 2 and "model_0004.pt: cannot read it" in out and out.count("  converted ") == 2
    assert TinyCheckpointManager(RUN).list_epochs() == [2, 6]
    assert not (run_dir / "checkpoints" / "trainer_epoch_4.pt").exists(), "nothing written for that file"
    assert TinyCheckpointManager(RUN).load_trainer_state()["epoch"] == 6
    assert legacy_files(run_dir) == before, "nothing lost"


def test_an_unreadable_trainer_state_holds_back_its_whole_run(tmp_path, monkeypatch, capsys):
    state_file = half_run(tmp_path) / "checkpoints" / "trainer_state.pt"
    state_file.write_bytes(state_file.read_bytes()[:100])
    other = half_run(tmp_path / "other")  # another run in another data dir goes on
    monkeypatch.chdir(tmp_path)
    code, out = run(capsys, "--write", "train_dir", "other/train_dir")
    assert code == 2
    assert "  error     train_dir/my_run/checkpoints/trainer_state.pt: cannot read it (truncated or not a torch file?)" in out
    assert ("  error     train_dir/my_run: nothing of this run converted: its trainer state cannot be read, and it "
            "decides which epoch it belongs to\n") in out
    assert TinyCheckpointManager(RUN).list_epochs() == [] and not list(state_file.parent.glob("*_epoch_*"))
    assert TinyCheckpointManager(RUN, base_dir=other.parent).list_epochs() == [2, 4]


def test_an_unknown_pickled_class_is_reported(tmp_path, monkeypatch, capsys):
    (tmp_path / "pyproject.toml").write_text(CUSTOM_NAMES)
    run_dir = half_run(tmp_path, epochs=(6,), trainer_epoch=6)
    Record, Meta, Store = CLASSES

    class GoneAgent(torch.nn.Module):
        pass

    with importable_classes(acme_records=Record, acme_meta=Meta, acme_store=Store, gone_module=GoneAgent):
        torch.save(GoneAgent(), run_dir / "checkpoints" / "model_0002.pt")  # its module no longer exists
        torch.save(record(4, agent(4), store=Store()), run_dir / "checkpoints" / "model_0004.pt")  # a legacy class without stand-in
    before = legacy_files(run_dir)
    monkeypatch.chdir(tmp_path)

    code, out = run(capsys, "--write")
    assert code == 2
    assert ("  error     train_dir/my_run/checkpoints/model_0002.pt: it pickles gone_module.GoneAgent, which cannot be "
            "imported (No module named 'gone_module'); run the command from the project root, or set PYTHONPATH") in out
    assert ("  error     train_dir/my_run/checkpoints/model_0004.pt: it pickles acme_store.Store, a legacy class the "
            "converter has no stand-in for") in out
    assert TinyCheckpointManager(RUN).list_epochs() == [6] and "converted checkpoints/model_0006.pt" in out
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("*_epoch_*")) == ["agent_epoch_6.pt", "trainer_epoch_6.pt"]
    assert legacy_files(run_dir) == before
    assert "acme_store" not in sys.modules and "gone_module" not in sys.modules


def test_a_run_without_trainer_state_is_refused_unless_asked(tmp_path, monkeypatch, capsys):
    run_dir = half_run(tmp_path, trainer_epoch=None)
    before = legacy_files(run_dir)
    monkeypatch.chdir(tmp_path)

    for argv in ((), ("--write",)):
        code, out = run(capsys, *argv)
        assert code == 2
        assert ("  error     train_dir/my_run: not converted (model_0002.pt, model_0004.pt): the run has no trainer state "
                "(trainer_state.pt in it or in checkpoints/), so the migrated trainer would start again at epoch 0") in out
        assert "--without-trainer-state" in out
        assert sorted(os.listdir(run_dir / "checkpoints")) == sorted(Path(k).name for k in before), "nothing written"
    assert legacy_files(run_dir) == before

    code, out = run(capsys, "--write", "--without-trainer-state")
    assert code == 0 and out.count("  converted ") == 2
    manager = TinyCheckpointManager(RUN)
    assert manager.list_epochs() == [2, 4] and manager.load_trainer_state() is None
    assert checkpoints.same(manager.load_latest_agent(), agent(4))
    assert run(capsys, "--write")[0] == 0, "once converted, nothing is left to refuse"


def test_an_epoch_that_exists_in_the_new_layout_is_never_overwritten(tmp_path, monkeypatch, capsys):
    run_dir = half_run(tmp_path)
    monkeypatch.chdir(tmp_path)
    TinyCheckpointManager(RUN).save_checkpoint(agent(99), 4, {"optimizer": {}, "agent_step": 1})  # e.g. a fresh start
    existing = snapshot(run_dir / "checkpoints")
    existing = {k: v for k, v in existing.items() if "_epoch_" in k}
    before = legacy_files(run_dir)

    code, out = run(capsys)
    assert code == 2
    assert ("  error     train_dir/my_run/checkpoints/agent_epoch_4.pt: exists and holds another agent than model_0004.pt: "
            "not converted, nothing overwritten (move it away to convert)\n") in out
    code, out = run(capsys, "--write")
    assert code == 2 and "converted checkpoints/model_0002.pt -> checkpoints/agent_epoch_2.pt" in out
    after = snapshot(run_dir / "checkpoints")
    assert {k: after[k] for k in existing} == existing
    assert checkpoints.same(torch.load(run_dir / "checkpoints" / "agent_epoch_2.pt", weights_only=False), agent(2))
    assert legacy_files(run_dir) == before

    # the legacy agent with another trainer state is refused too
    TinyCheckpointManager(RUN).save_checkpoint(agent(4), 4, {"optimizer": {}, "agent_step": 1})
    code, out = run(capsys, "--write")
    assert code == 2 and ("  error     train_dir/my_run/checkpoints/trainer_epoch_4.pt: exists and holds another trainer "
                          "state than train_dir/my_run/checkpoints/trainer_state.pt: not converted") in out
    # and an orphan trainer file (no agent file: not an epoch yet) is never replaced
    (run_dir / "checkpoints" / "agent_epoch_4.pt").unlink()
    orphan = (run_dir / "checkpoints" / "trainer_epoch_4.pt").read_bytes()
    code, out = run(capsys, "--write")
    assert code == 2 and "trainer_epoch_4.pt: exists without agent_epoch_4.pt (an interrupted save?)" in out
    assert (run_dir / "checkpoints" / "trainer_epoch_4.pt").read_bytes() == orphan
    assert not (run_dir / "checkpoints" / "agent_epoch_4.pt").exists()
    # nor an agent file (the legacy agent) whose epoch lacks the trainer file the legacy state would go to
    TinyCheckpointManager(RUN).save_checkpoint(agent(4), 4)
    (run_dir / "checkpoints" / "trainer_epoch_4.pt").unlink()
    code, out = run(capsys, "--write")
    assert code == 2 and ("  error     train_dir/my_run/checkpoints/agent_epoch_4.pt: exists without trainer_epoch_4.pt, "
                          "which would hold train_dir/my_run/checkpoints/trainer_state.pt: not converted") in out
    assert not (run_dir / "checkpoints" / "trainer_epoch_4.pt").exists()


def test_an_epoch_that_disagrees_with_its_metadata_is_reported(tmp_path, monkeypatch, capsys):
    run_dir = half_run(tmp_path)
    (run_dir / "checkpoints" / "model_0002.yaml").write_text("epoch: 3\n")
    monkeypatch.chdir(tmp_path)
    code, out = run(capsys, "--write")
    assert code == 2
    assert ("train_dir/my_run/checkpoints/model_0002.pt: not converted: its metadata says epoch 3, its name epoch 2 "
            "(rename the file to the right epoch, then run again)") in out
    assert TinyCheckpointManager(RUN).list_epochs() == [4]


def test_json_output_and_exit_codes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run(capsys) == (0, "no legacy checkpoints found under train_dir\n")
    half_run(tmp_path)
    code, out = run(capsys, "--format", "json")
    report = json.loads(out)
    assert code == 1 and set(report) == {"write", "runs", "conversions", "errors", "notes", "version"}
    assert report["write"] is False and report["runs"] == [f"train_dir/{RUN}"] and report["errors"] == []
    assert report["conversions"][1] == {
        "run": "train_dir/my_run", "source": "train_dir/my_run/checkpoints/model_0004.pt",
        "target": "train_dir/my_run/checkpoints/agent_epoch_4.pt", "epoch": 4, "source_kind": "agent",
        "trainer_source": "train_dir/my_run/checkpoints/trainer_state.pt",
        "trainer_target": "train_dir/my_run/checkpoints/trainer_epoch_4.pt", "status": "proposed",
        "dropped_metadata": ["agent_step"]}
    code, out = run(capsys, "--write", "--format", "json", "--map-location", "cpu", f"train_dir/{RUN}")  # a run dir as PATH
    assert code == 0 and [c["status"] for c in json.loads(out)["conversions"]] == ["converted", "converted"]
    code, out = run(capsys, "--format", "json")
    assert code == 0 and [c["status"] for c in json.loads(out)["conversions"]] == ["unchanged", "unchanged"]
    assert cli.main(["checkpoints", "no/such/dir"]) == 2 and "no/such/dir: no such file" in capsys.readouterr().err


# -- apply / diff point at the run directories the code change leaves behind ---------------------

def test_apply_and_diff_end_with_one_line_about_legacy_run_directories(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runner, "RULES", [])  # the line does not depend on any rule
    (tmp_path / "app.py").write_text("x = 1\n")
    if shutil.which("git"):  # apply is meant for work trees under version control
        for args in (("init", "-q"), ("add", "-A"), ("commit", "-qm", "code")):
            subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=tmp_path, check=True)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["diff", "--jobs", "1"]) == 0 and "legacy" not in capsys.readouterr().out
    for run_name in ("a", "b"):
        (tmp_path / "train_dir" / run_name / "checkpoints").mkdir(parents=True)
        (tmp_path / "train_dir" / run_name / "checkpoints" / "model_0002.pt").write_bytes(b"")  # never read
    line = ("2 run directories still hold legacy checkpoints under train_dir: see `tinyckpt-migrate checkpoints train_dir`, "
            "convert with `tinyckpt-migrate checkpoints --write train_dir`\n")
    assert cli.main(["diff", "--jobs", "1"]) == 0
    assert capsys.readouterr().out.endswith(line)
    assert cli.main(["apply", "--allow-dirty", "--jobs", "1"]) == 0
    assert capsys.readouterr().out.endswith(line)
    assert cli.main(["diff", "--format", "json", "--jobs", "1"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["files_changed"] == [] and err == line  # stdout stays one JSON object
    (tmp_path / "train_dir" / "a" / "checkpoints" / "agent_epoch_2.pt").write_bytes(b"")
    assert checkpoints.pending_hint().startswith("1 run directory still holds legacy checkpoints under train_dir: ")


def test_data_dir_is_configurable(tmp_path):
    assert config_from_table({"data-dir": "runs"}).data_dir == "runs" and Config().data_dir is None
    with pytest.raises(ConfigError, match="data-dir"):
        config_from_table({"data-dir": 3})
    (tmp_path / "pyproject.toml").write_text('[tool.tinyckpt-migrate]\ndata-dir = "runs"\n')
    (tmp_path / "runs" / "r" / "checkpoints").mkdir(parents=True)
    (tmp_path / "runs" / "r" / "checkpoints" / "model_0001.pt").write_bytes(b"")
    config = find_config(tmp_path)
    assert checkpoints.data_dirs(config) == [tmp_path / "runs"]
    assert checkpoints.pending_hint(config, cwd=tmp_path).startswith("1 run directory still holds legacy checkpoints under runs: ")


def test_the_module_imports_neither_libcst_nor_torch():
    code = "import sys, codemods.checkpoints; print(sorted({'libcst', 'torch'} & {m.split('.')[0] for m in sys.modules}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == "[]\n", done.stderr


def test_stand_ins_never_reach_a_new_checkpoint():
    with pytest.raises(pickle.PicklingError, match="legacy record"):
        pickle.dumps(checkpoints.LegacyRecord())
    assert checkpoints.same({"a": [torch.tensor([float("nan")])]}, {"a": [torch.tensor([float("nan")])]})
    assert not checkpoints.same(agent(1), agent(2)) and not checkpoints.same(torch.zeros(2), torch.zeros(2, dtype=torch.int64))
