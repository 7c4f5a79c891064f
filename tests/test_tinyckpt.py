"""tinyckpt: API, latest-by-parsed-epoch, parsing, unsafe names, corrupt files, permissions,
pass-through of map_location / weights_only, save order. (Crash and distributed tests live in
test_tinyckpt_crash.py and test_tinyckpt_distributed.py.)"""
import os
import pickle
import re
import stat
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tinyckpt
from tinyckpt import (
    TinyCheckpointManager,
    checkpoint_path,
    latest_checkpoint,
    list_checkpoints,
    load_latest_agent,
    parse_checkpoint_path,
    run_exists,
    save_checkpoint,
)


def agent(tag: int) -> dict:
    """A small picklable 'agent' whose content says which save it came from."""
    return {"tag": tag, "w": torch.full((4,), float(tag))}


@pytest.fixture
def mgr(tmp_path) -> TinyCheckpointManager:
    return TinyCheckpointManager("run", base_dir=tmp_path)


# --- API basics -----------------------------------------------------------------------------

def test_empty_run(tmp_path, mgr):
    assert mgr.run_name == "run" and mgr.base_dir == tmp_path
    assert mgr.checkpoint_dir == tmp_path / "run" / "checkpoints"
    assert not mgr.exists() and mgr.list_epochs() == []
    assert mgr.load_latest_agent() is None and mgr.load_trainer_state() is None
    assert mgr.load_trainer_state(epoch=0) is None
    assert not run_exists("run", tmp_path) and load_latest_agent("run", tmp_path) is None
    assert not (tmp_path / "run").exists(), "reading must not create directories"


def test_default_base_dir_is_train_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mgr = TinyCheckpointManager("r")
    assert isinstance(mgr.base_dir, Path) and mgr.base_dir == Path("train_dir")
    path = save_checkpoint(agent(1), "r", 1)
    assert path == Path("train_dir/r/checkpoints/agent_epoch_1.pt") and path.is_file()
    assert checkpoint_path("r", 1) == "train_dir/r/checkpoints/agent_epoch_1.pt" == str(path)
    assert run_exists("r") and load_latest_agent("r")["tag"] == 1


def test_save_and_load_round_trip(tmp_path, mgr):
    path = mgr.save_checkpoint(agent(3), 3, {"optimizer": {"lr": 0.1}, "agent_step": 300})
    assert path == mgr.checkpoint_dir / "agent_epoch_3.pt" and isinstance(path, Path)
    assert mgr.exists() and mgr.list_epochs() == [3]
    assert mgr.load_latest_agent()["tag"] == 3
    assert mgr.load_trainer_state() == {"optimizer": {"lr": 0.1}, "agent_step": 300, "epoch": 3}
    assert mgr.load_trainer_state(3)["agent_step"] == 300
    assert mgr.load_trainer_state(4) is None
    module = torch.nn.Linear(3, 2)
    mgr.save_checkpoint(module, 4)
    loaded = mgr.load_latest_agent()
    assert isinstance(loaded, torch.nn.Linear) and torch.equal(loaded.weight, module.weight)
    assert mgr.load_trainer_state() is None, "epoch 4 was saved without trainer state"
    assert mgr.load_trainer_state(3)["epoch"] == 3


def test_module_level_functions(tmp_path):
    path = save_checkpoint(agent(7), "exp", 7, {"agent_step": 70}, base_dir=tmp_path)
    assert path == Path(checkpoint_path("exp", 7, base_dir=tmp_path))
    assert run_exists("exp", base_dir=tmp_path) and not run_exists("other", base_dir=tmp_path)
    assert load_latest_agent("exp", base_dir=tmp_path)["tag"] == 7
    assert TinyCheckpointManager("exp", tmp_path).load_trainer_state() == {"agent_step": 70, "epoch": 7}


def test_agent_file_written_by_plain_torch_save_is_a_checkpoint_without_trainer_state(tmp_path):
    """Code (or a test) may write an agent file itself at checkpoint_path(...)."""
    path = checkpoint_path("r", 4, base_dir=tmp_path)
    Path(path).parent.mkdir(parents=True)
    torch.save(agent(4), path)
    mgr = TinyCheckpointManager("r", tmp_path)
    assert mgr.exists() and mgr.list_epochs() == [4] and latest_checkpoint(tmp_path / "r") == path
    assert mgr.load_latest_agent()["tag"] == 4
    assert mgr.load_trainer_state() is None and mgr.load_trainer_state(4) is None


def test_trainer_state_of_a_specific_epoch(mgr):
    for e in (1, 2, 3):
        mgr.save_checkpoint(agent(e), e, {"step": e * 10})
    assert [mgr.load_trainer_state(e)["step"] for e in (1, 2, 3)] == [10, 20, 30]
    assert mgr.load_trainer_state()["epoch"] == 3


def test_resaving_an_epoch_replaces_both_files(mgr):
    mgr.save_checkpoint(agent(1), 5, {"v": 1})
    mgr.save_checkpoint(agent(2), 5, {"v": 2})
    assert mgr.load_latest_agent()["tag"] == 2 and mgr.load_trainer_state()["v"] == 2
    mgr.save_checkpoint(agent(3), 5)
    assert mgr.load_latest_agent()["tag"] == 3
    assert mgr.load_trainer_state() is None, "stale trainer state of an earlier save must not survive"


@pytest.mark.parametrize("bad", [5.0, "5", None, 2.5])
def test_non_integer_epoch_refused(mgr, bad):
    with pytest.raises((ValueError, TypeError)):
        mgr.save_checkpoint(agent(1), bad)
    assert not list(mgr.checkpoint_dir.glob("*.pt")) if mgr.checkpoint_dir.exists() else True


def test_integer_like_epochs_are_normalised(mgr):
    assert mgr.save_checkpoint(agent(1), torch.tensor(12)).name == "agent_epoch_12.pt"
    assert mgr.list_epochs() == [12]


# --- latest = highest parsed epoch ----------------------------------------------------------

def test_latest_is_highest_parsed_epoch_not_string_order_or_mtime(mgr):
    for e in (10, 9, 2):  # saved out of order: epoch 2 is the newest file
        mgr.save_checkpoint(agent(e), e, {"e": e})
    d = mgr.checkpoint_dir
    past = 1_000_000_000
    os.utime(d / "agent_epoch_10.pt", (past, past))  # oldest mtime for the highest epoch
    assert mgr.list_epochs() == [2, 9, 10]
    assert mgr.load_latest_agent()["tag"] == 10
    assert mgr.load_trainer_state() == {"e": 10, "epoch": 10}
    assert latest_checkpoint(mgr.checkpoint_dir.parent) == str(d / "agent_epoch_10.pt")


def test_non_checkpoint_files_are_ignored(mgr):
    mgr.save_checkpoint(agent(9), 9)
    mgr.save_checkpoint(agent(10), 10)
    d = mgr.checkpoint_dir
    junk = ["agent_epoch_11.pt.tmp", ".agent_epoch_12.pt.3f2a.tmp", "agent_epoch_13.yaml",
            "model_0014.pt", "model_0014.yaml", "agent_epoch_015.pt", "agent_epoch_+16.pt",
            "trainer_epoch_17.pt", "agent_epoch_18.pt~", "agent_epoch_19.PT", "xagent_epoch_20.pt",
            "agent_epoch_21.pt.part", "agent_epoch_.pt", "agent_epoch_2 2.pt", "agent_epoch_٣.pt",
            "agent_epoch_-0.pt", "x\nagent_epoch_22.pt", "agent_epoch_23.pt\n", "agent_epoch_24.pt\nx"]
    for name in junk:
        (d / name).write_bytes(b"not a checkpoint")
    (d / ".tmp-abcdef").mkdir()
    (d / ".tmp-abcdef" / "agent").write_bytes(b"partial")
    (d / ".tmp-abcdef" / "agent_epoch_99.pt").write_bytes(b"partial")
    assert mgr.list_epochs() == [9, 10]
    assert mgr.load_latest_agent()["tag"] == 10
    assert list_checkpoints(d) == [str(d / "agent_epoch_9.pt"), str(d / "agent_epoch_10.pt")]


def test_incomplete_epoch_is_invisible(mgr):
    """A trainer file without its agent file (a save killed in between) is not an epoch."""
    mgr.save_checkpoint(agent(1), 1, {"e": 1})
    torch.save({"e": 2}, mgr.checkpoint_dir / "trainer_epoch_2.pt")
    assert mgr.list_epochs() == [1]
    assert mgr.load_latest_agent()["tag"] == 1
    assert mgr.load_trainer_state() == {"e": 1, "epoch": 1}
    assert mgr.load_trainer_state(2) is None


def test_trainer_file_is_written_before_agent_file(mgr, monkeypatch):
    replaced = []
    real_replace = os.replace

    def recording_replace(src, dst):
        # at the moment each file lands, record what a reader would see
        replaced.append((Path(dst).name, mgr.list_epochs()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", recording_replace)
    mgr.save_checkpoint(agent(4), 4, {"e": 4})
    assert replaced == [("trainer_epoch_4.pt", []), ("agent_epoch_4.pt", [])]
    assert mgr.list_epochs() == [4]


def test_failed_save_leaves_no_temp_files_and_no_epoch(mgr):
    mgr.save_checkpoint(agent(1), 1)
    with pytest.raises((AttributeError, pickle.PicklingError)):
        mgr.save_checkpoint({"unpicklable": lambda: None}, 2)
    names = sorted(p.name for p in mgr.checkpoint_dir.iterdir())
    assert not [n for n in names if n.startswith(".")], names  # the temp directory was removed
    assert "agent_epoch_2.pt" not in names
    assert mgr.list_epochs() == [1] and mgr.load_trainer_state(2) is None
    assert mgr.load_latest_agent()["tag"] == 1


def test_latest_of_many_is_fast_enough_and_right(tmp_path):
    d = tmp_path / "run" / "checkpoints"
    d.mkdir(parents=True)
    for e in range(2000):
        (d / f"agent_epoch_{e}.pt").touch()
    assert TinyCheckpointManager("run", tmp_path).list_epochs() == list(range(2000))
    assert latest_checkpoint(tmp_path / "run") == str(d / "agent_epoch_1999.pt")


# --- parsing and path helpers ---------------------------------------------------------------

@pytest.mark.parametrize("given_path, expected", [
    ("train_dir/my_run/checkpoints/agent_epoch_5.pt", ("my_run", 5)),
    ("./train_dir/my_run/checkpoints/agent_epoch_0.pt", ("my_run", 0)),
    ("/abs/base/r.1/checkpoints/agent_epoch_10.pt", ("r.1", 10)),
    ("file:///abs/base/r/checkpoints/agent_epoch_123456.pt", ("r", 123456)),
    ("file://./train_dir/r/checkpoints/agent_epoch_3.pt", ("r", 3)),
    ("file://train_dir/r/checkpoints/agent_epoch_3.pt", ("r", 3)),
    ("r/checkpoints/agent_epoch_7.pt", ("r", 7)),
    (Path("base/run x/checkpoints/agent_epoch_8.pt"), ("run x", 8)),
])
def test_parse_checkpoint_path(given_path, expected):
    assert parse_checkpoint_path(given_path) == expected


@pytest.mark.parametrize("bad", [
    "train_dir/r/checkpoints/trainer_epoch_5.pt", "train_dir/r/agent_epoch_5.pt",
    "checkpoints/agent_epoch_5.pt", "./checkpoints/agent_epoch_5.pt", "../checkpoints/agent_epoch_5.pt",
    "train_dir/r/checkpoints/agent_epoch_05.pt", "train_dir/r/checkpoints/agent_epoch_5.pt.tmp",
    "train_dir/r/checkpoints/model_0005.pt", "train_dir/r/checkpoints/", "train_dir/r",
    "wandb://run/r:v3", "",
])
def test_parse_checkpoint_path_refuses(bad):
    with pytest.raises(ValueError, match="not an agent checkpoint path"):
        parse_checkpoint_path(bad)


safe_names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\\\0"),
                     min_size=1, max_size=20).filter(lambda s: s not in (".", ".."))


@settings(max_examples=200, deadline=None)
@given(run=safe_names, epoch=st.integers(min_value=0, max_value=10**12),
       base=st.sampled_from(["./train_dir", "train_dir", "/tmp/x", "a/b/", "."]))
def test_checkpoint_path_round_trips_through_parse(run, epoch, base):
    path = checkpoint_path(run, epoch, base_dir=base)
    assert isinstance(path, str)
    assert parse_checkpoint_path(path) == (run, epoch)
    assert parse_checkpoint_path("file://" + path) == (run, epoch)
    assert Path(path) == TinyCheckpointManager(run, base).checkpoint_dir / f"agent_epoch_{epoch}.pt"


def test_list_and_latest_checkpoint_accept_run_dir_checkpoints_dir_file_and_uri(tmp_path):
    mgr = TinyCheckpointManager("r", tmp_path)
    for e in (1, 10, 2):
        mgr.save_checkpoint(agent(e), e)
    d = mgr.checkpoint_dir
    expected = [str(d / f"agent_epoch_{e}.pt") for e in (1, 2, 10)]
    for form in (tmp_path / "r", str(tmp_path / "r"), d, f"file://{d}", f"file://{tmp_path / 'r'}"):
        assert list_checkpoints(form) == expected
        assert latest_checkpoint(form) == expected[-1]
    one = str(d / "agent_epoch_2.pt")
    assert list_checkpoints(one) == [one] and latest_checkpoint(one) == one
    assert latest_checkpoint("file://" + one) == one
    other = tmp_path / "weights.pt"
    torch.save({}, other)
    assert latest_checkpoint(other) == str(other)


def test_list_and_latest_checkpoint_when_there_is_none(tmp_path):
    (tmp_path / "empty" / "checkpoints").mkdir(parents=True)
    for where in (tmp_path / "empty", tmp_path / "missing", tmp_path / "missing.pt", f"file://{tmp_path}/nope"):
        assert list_checkpoints(where) == []
        with pytest.raises(FileNotFoundError, match="no agent checkpoint"):
            latest_checkpoint(where)


# --- unsafe run names -----------------------------------------------------------------------

UNSAFE = ["", ".", "..", "a/b", "../escape", "/abs", "/", "a\\b", "..\\x", "x\0y", "r/", "/etc/passwd"]


@pytest.mark.parametrize("bad", UNSAFE)
def test_unsafe_run_names_are_refused(tmp_path, bad):
    base = tmp_path / "base"
    with pytest.raises(ValueError, match="unsafe run name"):
        TinyCheckpointManager(bad, base)
    for call in (lambda: run_exists(bad, base), lambda: load_latest_agent(bad, base),
                 lambda: save_checkpoint(agent(1), bad, 1, base_dir=base), lambda: checkpoint_path(bad, 1, base)):
        with pytest.raises(ValueError):
            call()
    assert list(tmp_path.rglob("*")) == [], "nothing may be written anywhere"


@pytest.mark.parametrize("ok", ["run", "run.1", "..a", "a..", "...", "my run", "ünïcode", "-x", ".hidden"])
def test_safe_run_names_stay_inside_base_dir(tmp_path, ok):
    path = save_checkpoint(agent(1), ok, 1, base_dir=tmp_path)
    assert path.resolve().is_relative_to(tmp_path.resolve())
    assert path.parent.parent.name == ok and parse_checkpoint_path(path) == (ok, 1)


# --- corrupt and truncated files ------------------------------------------------------------

@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage"])
def test_corrupt_latest_agent_raises_naming_the_file(mgr, damage):
    mgr.save_checkpoint(agent(1), 1, {"e": 1})
    latest = mgr.save_checkpoint(agent(2) | {"big": torch.zeros(10_000)}, 2, {"e": 2})
    data = latest.read_bytes()
    latest.write_bytes({"truncate": data[: len(data) // 2], "empty": b"", "garbage": b"\x00junk" * 100}[damage])
    for load in (mgr.load_latest_agent, lambda: load_latest_agent("run", mgr.base_dir)):
        with pytest.raises(RuntimeError) as info:
            load()
        assert str(latest) in str(info.value) and "cannot load" in str(info.value)
        assert info.value.__cause__ is not None
    assert mgr.load_trainer_state() == {"e": 2, "epoch": 2}, "the intact trainer file still loads"


def test_corrupt_trainer_state_raises_naming_the_file(mgr):
    mgr.save_checkpoint(agent(1), 1, {"e": 1})
    trainer = mgr.checkpoint_dir / "trainer_epoch_1.pt"
    trainer.write_bytes(trainer.read_bytes()[:20])
    with pytest.raises(RuntimeError, match="trainer_epoch_1.pt"):
        mgr.load_trainer_state()


# --- permissions follow the umask like torch.save -------------------------------------------

@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002, 0o077])
def test_saved_file_permissions_follow_umask_like_torch_save(tmp_path, umask):
    old = os.umask(umask)
    try:
        torch.save(agent(1), tmp_path / "plain.pt")
        path = save_checkpoint(agent(1), "r", 1, {"e": 1}, base_dir=tmp_path)
    finally:
        os.umask(old)
    expected = stat.S_IMODE((tmp_path / "plain.pt").stat().st_mode)
    assert expected == 0o666 & ~umask
    assert stat.S_IMODE(path.stat().st_mode) == expected
    assert stat.S_IMODE((path.parent / "trainer_epoch_1.pt").stat().st_mode) == expected


# --- map_location / weights_only pass through -----------------------------------------------

def test_map_location_and_weights_only_are_passed_to_torch_load(mgr, monkeypatch):
    mgr.save_checkpoint(agent(1), 1, {"e": 1})
    calls = []
    real_load = torch.load

    def spy(path, **kwargs):
        calls.append((Path(path).name, kwargs))
        return real_load(path, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    mgr.load_latest_agent()
    mgr.load_latest_agent(map_location="cpu", weights_only=True)
    mgr.load_trainer_state(map_location={"cuda:0": "cpu"}, weights_only=True)
    load_latest_agent("run", mgr.base_dir, map_location="meta", weights_only=True)
    assert calls == [
        ("agent_epoch_1.pt", {"map_location": None, "weights_only": False}),
        ("agent_epoch_1.pt", {"map_location": "cpu", "weights_only": True}),
        ("trainer_epoch_1.pt", {"map_location": {"cuda:0": "cpu"}, "weights_only": True}),
        ("agent_epoch_1.pt", {"map_location": "meta", "weights_only": True}),
    ]


def test_map_location_and_weights_only_take_effect(mgr):
    mgr.save_checkpoint(agent(1), 1, {"w": torch.ones(2)})
    assert mgr.load_latest_agent(map_location="meta")["w"].device.type == "meta"
    assert mgr.load_trainer_state(map_location="meta")["w"].device.type == "meta"
    assert mgr.load_latest_agent()["w"].device.type == "cpu"
    mgr.save_checkpoint(torch.nn.Linear(2, 2), 2)
    assert isinstance(mgr.load_latest_agent(), torch.nn.Linear)  # default weights_only=False
    with pytest.raises(RuntimeError, match="agent_epoch_2.pt"):
        mgr.load_latest_agent(weights_only=True)  # a pickled Module is refused by the safe loader


def test_pickle_risk_is_documented():
    for doc in (tinyckpt.__doc__, TinyCheckpointManager.load_latest_agent.__doc__):
        assert "weights_only=False" in doc and "arbitrary code" in doc.lower()


# --- torch.distributed: a non-zero rank never writes (the 2-process test is separate) ----------

def test_non_zero_rank_does_not_write(mgr, monkeypatch):
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 1)
    path = mgr.save_checkpoint(agent(1), 1, {"e": 1})
    assert path == mgr.checkpoint_dir / "agent_epoch_1.pt"
    assert not mgr.checkpoint_dir.exists()
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 0)
    assert mgr.save_checkpoint(agent(1), 1) == path and path.is_file()


def test_builds_without_distributed_still_save(mgr, monkeypatch):
    def absent():
        raise AttributeError("no torch.distributed on this build")

    monkeypatch.setattr(torch.distributed, "is_available", lambda: False)
    monkeypatch.setattr(torch.distributed, "is_initialized", absent)
    monkeypatch.setattr(torch.distributed, "get_rank", absent)
    assert mgr.save_checkpoint(agent(1), 1).is_file()


@pytest.mark.parametrize("epoch, error", [(5.0, TypeError), (True, TypeError), ("3", TypeError), (None, TypeError),
                                          (-1, ValueError)])
def test_an_epoch_is_a_non_negative_int(mgr, epoch, error):
    """Not Python's raw "Unknown format code 'd'" for 5.0, not epoch 1 for True, no negative epochs."""
    with pytest.raises(error, match=rf"tinyckpt: an epoch is an int >= 0, not {re.escape(repr(epoch))}"):
        mgr.save_checkpoint(agent(1), epoch)
    with pytest.raises(error):
        tinyckpt.checkpoint_path("r", epoch)
    assert not mgr.checkpoint_dir.exists() or not list(mgr.checkpoint_dir.iterdir())  # nothing written
