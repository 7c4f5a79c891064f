"""Where a decision must not apply, and flows that must stay whole (found by an adversarial review of
issue 14's changes): each case states the wrong output it once produced."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from golden_helpers import FIXTURES
from rule_helpers import run_rule

from codemods import runner
from codemods.config import Config, find_config
from codemods.decisions import kind_of, parse_decisions
from codemods.rules import RULES

SIMPLE = Config(decisions=parse_decisions("simple"))
STORE = "from metta.agent.policy_store import PolicyStore\n\n\n"


def _manual_codes(result) -> set[str]:  # type: ignore[no-untyped-def]
    return {kind_of(s.rule, s.message).code for s in result.sites if s.outcome == "manual"}  # type: ignore[union-attr]


def test_no_raise_where_the_wandb_load_would_not_run() -> None:
    """An assert's message, the far side of a chained comparison, a load after another call of its statement,
    a with of several items: a raise before the statement would run where the load never did."""
    for body in ('    assert ok, store.policy_record("wandb://run/b:v1").policy\n',
                 '    if 0 < ok < store.policy_record("wandb://run/b:v1").metadata.epoch:\n        return 1\n',
                 '    agent = warm_up() or 1, store.policy_record("wandb://run/b:v1").policy\n',
                 '    with open("x") as f, store.policy_record("wandb://run/b:v1").policy as p:\n        pass\n'):
        result = run_rule(RULES, STORE + f"def main(store: PolicyStore, ok):\n{body}", config=SIMPLE)
        assert result.error is None and "NotImplementedError" not in result.new_source, body
        assert "TCK-M107" in _manual_codes(result), body
    plain = run_rule(RULES, STORE + 'def main(store: PolicyStore):\n    pr = store.policy_record("wandb://run/b:v1")\n'
                                    '    return 1\n', config=SIMPLE)  # the plainest shape is decided
    assert 'raise NotImplementedError("tinyckpt loads local checkpoint files only: download wandb://run/b:v1' \
        in plain.new_source


def test_a_wandb_uri_built_by_concatenation_is_a_wandb_uri() -> None:
    result = run_rule(RULES, STORE + 'def main(store: PolicyStore, uri):\n    return store.policy_record("wandb://run/" + uri).run_name\n')
    assert "latest_checkpoint" not in result.new_source and "TCK-M107" in _manual_codes(result)


HAND = '''import os

from metta.agent.policy_record import PolicyRecord
from metta.agent.policy_store import PolicyStore


def export(store: PolicyStore, agent, run, base, epoch{extra}):
{path}    pr = PolicyRecord(store, run, path, {{"epoch": epoch}})
    pr.policy = agent
    store.save(pr)
    return pr.uri
'''


def test_a_hand_save_never_takes_a_path_or_base_bound_twice() -> None:
    """A caller's path (a parameter) or a base directory rebound after the path was built: save_checkpoint
    would write elsewhere than the code says."""
    cases = [(", path=None", '    if path is None:\n        path = os.path.join(base, run, f"epoch_{epoch}.pt")\n'),
             ("", '    path = os.path.join(base, run, f"epoch_{epoch}.pt")\n    base = os.path.join(base, "x")\n')]
    for extra, path in cases:
        result = run_rule(RULES, HAND.format(extra=extra, path=path), config=SIMPLE)
        assert "save_checkpoint(" not in result.new_source.replace("(save_checkpoint)", "") and \
            "TCK-M103" in _manual_codes(result), path
    ok = run_rule(RULES, HAND.format(extra="", path='    path = os.path.join(base, run, f"epoch_{epoch}.pt")\n'),
                  config=SIMPLE)
    assert "str(save_checkpoint(agent, run, epoch, base_dir=base))" in ok.new_source


def test_a_function_defined_twice_in_a_function_is_not_followed() -> None:
    source = STORE + ('def main(store: PolicyStore, uris, remote):\n    def load(uri):\n'
                      '        return store.policy_record(uri, selector_type="latest")\n\n    if remote:\n'
                      '        def load(uri):\n            return store.policy_record("wandb://run/" + uri)\n\n'
                      '    return [load(u).run_name for u in uris]\n')
    result = run_rule(RULES, source)
    assert "latest_checkpoint" not in result.new_source and "parse_checkpoint_path" not in result.new_source


def _project(tmp_path: Path, files: dict[str, str]) -> runner.RunResult:
    for name, text in {"pyproject.toml": '[project]\nname = "p"\n', "app/__init__.py": "", **files}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    shutil.copytree(FIXTURES / "legacy_full" / "metta", tmp_path / "metta",
                    ignore=shutil.ignore_patterns("__pycache__", "rl", "sim"))
    shutil.copytree(FIXTURES / "legacy_half" / "metta" / "rl", tmp_path / "metta" / "rl",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return runner.run([tmp_path], find_config(tmp_path), jobs=1)


def _new(result: runner.RunResult, root: Path, name: str) -> str:
    return next((c.new_text or "" for c in result.changes if os.path.relpath(c.file, root) == name), "")


def test_readers_held_by_a_stores_manual_save_are_marked(tmp_path: Path) -> None:
    """A store's save that stays (a record built by hand whose metadata calls code) keeps the checkpoints'
    readers and writers legacy: they were left unchanged without a marker or a listed manual site."""
    result = _project(tmp_path, {
        "app/export.py": ("import os, time\n\nfrom metta.agent.policy_record import PolicyRecord\n"
                          "from metta.agent.policy_store import PolicyStore\n\n\ndef export(store: PolicyStore, agent, run, epoch):\n"
                          '    pr = PolicyRecord(store, run, os.path.join("./train_dir", run, "checkpoints", f"model_{epoch}.pt"), '
                          '{"epoch": epoch, "t": time.time()})\n    pr.policy = agent\n    store.save(pr)\n'),
        "app/play.py": (STORE + 'def play(run):\n    store = PolicyStore()\n'
                        '    return store.policy_record(f"./train_dir/{run}/checkpoints", selector_type="latest").policy\n'),
    })
    held = [s for s in result.manual if s.path.endswith("play.py")]
    assert held and "app.export" in held[0].message and _new(result, tmp_path, "app/play.py").count("manual:") == 1


def test_a_selector_field_stays_while_something_still_reads_it(tmp_path: Path) -> None:
    cfg = ('from dataclasses import dataclass, field\n\nfrom metta.agent.policy_store import PolicySelectorConfig\n\n\n'
           '@dataclass\nclass Cfg:\n    uri: str = "./train_dir/run"\n'
           '    leaderboard: PolicySelectorConfig = field(default_factory=PolicySelectorConfig)\n')
    best = (STORE + "from app.cfg import Cfg\n\n\ndef best(store: PolicyStore, cfg: Cfg):\n"
            '    prs = store.policy_records(cfg.uri, selector_type="top", n=cfg.leaderboard.n)\n')
    cases = {  # the store call stays legacy (its record is held), a getattr, a positional construction
        "held": best + "    return [pr.extract_wandb_run_info() for pr in prs]\n",
        "getattr": best + "    return prs, getattr(cfg, 'leaderboard')\n",
        "positional": best + "    return prs\n\n\ndef make(x):\n    return Cfg('./r', x)\n",
    }
    for case, text in {**cases, "dropped": best + "    return prs\n"}.items():
        root = tmp_path / case
        (root / "pyproject.toml").parent.mkdir(parents=True)
        result = _project(root, {"app/cfg.py": cfg, "app/main.py": text,
                                 "pyproject.toml": '[project]\nname = "p"\n\n[tool.tinyckpt-migrate]\ndecisions = "simple"\n'})
        kept = "leaderboard: PolicySelectorConfig = field" in (_new(result, root, "app/cfg.py") or cfg).split("was `")[0]
        assert kept == (case != "dropped"), case


def test_a_store_kept_as_a_class_attribute_stays() -> None:
    """Subclasses and instances may rebind a class attribute: a store kept there is not removed while code
    reads it (it was removed, leaving `self.db.save(...)` on nothing)."""
    source = STORE + ("class Runner:\n    db = PolicyStore()\n\n    def load(self, uri, path):\n"
                      "        pr = self.db.policy_record(uri)\n        self.db.save(pr, path)\n        return pr.uri\n")
    result = run_rule(RULES, source, config=SIMPLE)
    assert "    db = PolicyStore()\n" in result.new_source and "self.db.save(pr, path)" in result.new_source
    assert "from metta.agent.policy_store import PolicyStore" in result.new_source


def test_no_raise_in_a_try_body_and_no_upload_dropped_with_a_call() -> None:
    """A handler around a legacy wandb load or upload could catch what it raised, not the inserted raise; an
    upload whose arguments call code (an export that writes the file) is not dropped."""
    in_try = STORE + ('def a(store: PolicyStore, run):\n    try:\n        pr = store.policy_record(f"wandb://run/{run}")\n'
                      '    except ValueError:\n        return None\n    return pr.policy\n')
    upload_in_try = STORE + ("def b(store: PolicyStore, run_id, uri):\n    pr = store.policy_record(uri)\n    try:\n"
                             "        store.add_to_wandb_run(run_id, pr)\n    except Exception:\n        pass\n")
    upload_calls = STORE + ("def c(store: PolicyStore, agent, name, path):\n"
                            '    store.add_to_wandb_artifact(name, "model", {}, export(agent, path))\n    return path\n')
    for source in (in_try, upload_in_try, upload_calls):
        result = run_rule(RULES, source, config=SIMPLE)
        assert result.error is None and "NotImplementedError" not in result.new_source, source
        assert "TCK-M107" in _manual_codes(result), source


def test_a_file_whose_facts_failed_is_outside_the_units(tmp_path: Path) -> None:
    """Its graph is not trusted: a record that reaches it stays, as for a file outside the run's paths (a
    caller was rewritten to pass a path to a callee left reading `.policy`)."""
    from typing import Any

    from codemods.analysis import Analysis
    from codemods.rules._rule import Rule

    class Broken(Rule):
        NAME = "broken"

        @classmethod
        def facts(cls, a: Analysis) -> dict[str, list[Any]]:
            if a.module == "app.helper":
                raise RuntimeError("boom")
            return {}

    for name, text in {"pyproject.toml": '[project]\nname = "p"\n', "app/__init__.py": "",
                       "app/helper.py": ("from metta.agent.policy_record import PolicyRecord\n\n\n"
                                         "def show(pr: PolicyRecord):\n    return pr.policy, pr.run_name\n"),
                       "app/main.py": (STORE + "from app.helper import show\n\n\ndef run(uri):\n    store = PolicyStore()\n"
                                       "    return show(store.policy_record(uri))\n")}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    shutil.copytree(FIXTURES / "legacy_full" / "metta", tmp_path / "metta", ignore=shutil.ignore_patterns("__pycache__"))
    result = runner.run([tmp_path], find_config(tmp_path), rules=[*RULES, Broken], jobs=1)
    assert [e.message for e in result.errors] == ["internal error in broken (facts): boom"]
    assert "latest_checkpoint" not in _new(result, tmp_path, "app/main.py")
