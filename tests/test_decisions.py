"""Deciding a kind of manual site once (issue 14): codes, reports by kind, decisions in the
configuration and on the command line, and the code each implemented choice writes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from golden_helpers import FIXTURES
from rule_helpers import check_rule, run_rule

from codemods import cli, runner
from codemods.config import Config, ConfigError, config_from_table, find_config
from codemods.decisions import BY_CODE, KINDS, MANUAL, kind_of, parse_decisions
from codemods.rules import RULES

ROOT = Path(__file__).resolve().parent.parent


def test_kinds_have_stable_unique_codes_and_names_and_the_docs_list_them() -> None:
    assert len({k.code for k in KINDS}) == len(KINDS) and len({k.name for k in KINDS}) == len(KINDS)
    assert all(re.fullmatch(r"TCK-M1\d\d", k.code) for k in KINDS)
    assert all(k.simple is None or k.simple in k.choices for k in KINDS)
    docs = (ROOT / "docs" / "migration.md").read_text(encoding="utf-8")
    for kind in KINDS:  # (the table is generated; test_registry checks it is current)
        row = next(line for line in docs.splitlines() if line.startswith(f"| `{kind.code}` |"))
        assert f"`{kind.name}`" in row and all(f"`{choice}`" in row for choice in kind.choices)


def test_every_kind_names_rules_that_exist() -> None:
    names = {rule.NAME for rule in RULES} | {runner.KEEP_RULE}
    assert all(set(kind.rules) <= names for kind in KINDS), [k.code for k in KINDS if not set(k.rules) <= names]


def test_every_manual_site_of_the_examples_has_a_specific_kind() -> None:
    """Catch-all kinds (manager-shape, record-shape) are for shapes the examples do not have."""
    catch_all = {"TCK-M112", "TCK-M113"}
    for example in ("legacy_full", "legacy_half"):
        result = runner.run([FIXTURES / example], find_config(FIXTURES / example), jobs=1)
        for site in result.manual:
            kind = kind_of(site.rule, site.message)
            assert kind is not None and kind.code not in catch_all, (site.rule, site.message)


def test_decisions_are_parsed_and_refused_clearly() -> None:
    assert parse_decisions("simple") == {k.code: k.simple for k in KINDS if k.simple}
    assert parse_decisions({"TCK-M108": "latest", "missing-error": MANUAL}) == {"TCK-M108": "latest",
                                                                                "TCK-M106": MANUAL}
    with pytest.raises(ConfigError, match="no choice 'best'.*choices: manual, latest"):
        config_from_table({"decisions": {"best-checkpoint": "best"}})
    with pytest.raises(ConfigError, match="no kind 'fastest'"):
        config_from_table({"decisions": {"fastest": "latest"}})
    with pytest.raises(ConfigError, match='a table of kind = "choice", or "simple"'):
        config_from_table({"decisions": "all"})


def test_the_command_line_decides_and_reports_by_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "half"
    shutil.copytree(FIXTURES / "legacy_half", root, ignore=shutil.ignore_patterns("__pycache__"))
    code = cli.main(["diff", str(root), "--jobs", "1"])
    out = capsys.readouterr().out
    assert code == 1 and "manual sites by kind" in out
    assert re.search(r"TCK-M108 best-checkpoint\s+2  --decide TCK-M108=latest", out)
    code = cli.main(["diff", str(root), "--jobs", "1", "--decide", "best-checkpoint=latest", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and not [s for s in data["sites"] if s["code"] == "TCK-M108"]
    assert all(s["code"] is None for s in data["sites"] if s["outcome"] == "migrated")
    assert {s["code"] for s in data["sites"] if s["outcome"] == "manual"} == {"TCK-M105", "TCK-M107", "TCK-M191"}
    for bad, said in ((["--decide", "best-checkpoint"], "KIND=CHOICE"), (["--decide", "all=fast"], "all =")):
        assert cli.main(["diff", str(root), *bad]) == 2 and said in capsys.readouterr().err


def test_best_checkpoint_latest_migrates_the_half_example_whole_and_it_still_runs(tmp_path: Path) -> None:
    """TCK-M108 = latest: the two find_* sites become tinyckpt calls, with a note; the manager's whole unit
    (held back by them in the golden) migrates across files; the project's own tests pass, and
    train --report-best reports the latest checkpoint."""
    root = tmp_path / "half"
    shutil.copytree(FIXTURES / "legacy_half", root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    with (root / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write('\n[tool.tinyckpt-migrate.decisions]\nbest-checkpoint = "latest"\n')
    result = runner.run([root], find_config(root), jobs=1)
    assert result.errors == [] and runner.apply_changes(result).errors == []
    report = (root / "metta" / "rl" / "checkpoint_report.py").read_text(encoding="utf-8")
    assert "    # tinyckpt-migrate: decided: TCK-M108 best-checkpoint = latest: the latest checkpoint, no longer the " \
           'best by "score"\n    best = next(reversed(list_checkpoints(checkpoint_manager.checkpoint_dir)), None)\n' in report
    assert "return list_checkpoints(checkpoint_manager.checkpoint_dir)\n" in report
    assert not (root / "metta" / "rl" / "simple_checkpoint_manager.py").exists()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1", PYTHONWARNINGS="ignore")
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root, env=env,
                           capture_output=True, text=True, timeout=300)
    assert tests.returncode == 0, tests.stdout[-3000:]
    train = subprocess.run([sys.executable, "-m", "tools.train", "--run", "r", "--epochs", "4", "--report-best"],
                           cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert train.returncode == 0, train.stderr
    assert "best checkpoint: train_dir/r/checkpoints/agent_epoch_4.pt" in train.stdout
    again = runner.run([root], find_config(root), jobs=1)
    assert not again.changes  # a second run changes nothing (the notes are not duplicated)


MISSING = '''from metta.agent.policy_store import PolicyMissingError


def load(loader, uri):
    try:
        return loader(uri)
    except PolicyMissingError:
        return None
'''


def test_missing_error_file_not_found() -> None:
    config = Config(decisions={BY_CODE["TCK-M106"].code: "file-not-found"})
    after = MISSING.replace("from metta.agent.policy_store import PolicyMissingError\n\n\n", "").replace(
        "    except PolicyMissingError:", "    except FileNotFoundError:").replace(
        "    try:", "    # tinyckpt-migrate: decided: TCK-M106 missing-error = file-not-found: FileNotFoundError is what "
        "tinyckpt raises when a run has no checkpoint\n    try:")
    check_rule(RULES, MISSING, after, config=config)
    undecided = check_rule(RULES, MISSING, MISSING.replace("    try:", "    # tinyckpt-migrate: manual: "
                                                           "PolicyMissingError: tinyckpt raises FileNotFoundError; decide "
                                                           "what this handler catches\n    try:"),
                           sites=[("manual", "policy_store", "PolicyMissingError")])
    assert kind_of(undecided.sites[0].rule, undecided.sites[0].message).code == "TCK-M106"


SELECTORS = '''from metta.agent.policy_store import PolicyStore


def leaders(store: PolicyStore, uri, cfg):
    for pr in store.policy_records(uri, selector_type="top", n=cfg.n, metric="reward"):
        print(pr.run_name)
    return [pr.uri for pr in store.policy_records(uri, selector_type=cfg.selector)]
'''


def test_selector_by_metric_latest_and_selector_variable_branch() -> None:
    """TCK-M101 = latest: a "top" selector by a metric takes the latest checkpoint, with a note naming the metric;
    TCK-M114 = branch: a selector read at run time becomes one list_checkpoints / latest_checkpoint branch per
    kind of value (parenthesized: it stands in a comprehension's `for ... in`)."""
    after = '''from tinyckpt import latest_checkpoint, list_checkpoints, parse_checkpoint_path


def leaders(uri, cfg):
    # tinyckpt-migrate: decided: TCK-M101 selector-by-metric = latest: the latest checkpoint, no longer the top by "reward"
    for pr in [latest_checkpoint(uri)]:
        print(parse_checkpoint_path(pr)[0])
    # tinyckpt-migrate: decided: TCK-M114 selector-variable = branch: every checkpoint when cfg.selector is "all", else the latest
    return [pr for pr in (list_checkpoints(uri) if cfg.selector == "all" else [latest_checkpoint(uri)])]
'''
    check_rule(RULES, SELECTORS, after, config=Config(decisions={"TCK-M101": "latest", "TCK-M114": "branch"}))
    # one decision only: the other unit stays manual (each kind is decided on its own)
    only = run_rule(RULES, SELECTORS, config=Config(decisions={"TCK-M101": "latest"}))
    assert "selector cfg.selector is not a literal" in only.new_source and "[latest_checkpoint(uri)]" in only.new_source
    assert {kind_of(s.rule, s.message).code for s in only.sites if s.outcome == "manual"} == {"TCK-M114"}
    # a dropped argument that calls code is never dropped: the site stays manual
    calls = SELECTORS.replace("metric=\"reward\"", "metric=cfg.pick_metric()")
    kept = run_rule(RULES, calls, config=Config(decisions={"TCK-M101": "latest"}))
    assert 'store.policy_records(uri, selector_type="top", n=cfg.n, metric=cfg.pick_metric())' in kept.new_source
    assert any(kind_of(s.rule, s.message).code == "TCK-M101" for s in kept.sites if s.outcome == "manual")


REMOTE = '''from metta.agent.policy_store import PolicyStore


def main(args):
    policy_store = PolicyStore.create(device="cpu", data_dir=args.data_dir, wandb_config=None)
    agent = policy_store.policy_record_or_mock(args.policy_uri, run_name=args.run).policy
    if args.baseline:
        # the published one
        baseline_agent = policy_store.policy_record("wandb://run/navigation_baseline:v12").policy
        print(f"baseline: {sum(p.numel() for p in baseline_agent.parameters())} parameters")
    return agent
'''


def test_record_or_mock_path_or_none_and_remote_uri_not_implemented() -> None:
    after = '''import torch
from tinyckpt import latest_checkpoint


def main(args):
    # tinyckpt-migrate: decided: TCK-M105 record-or-mock = path-or-none: None where no policy URI is given (no mock policy)
    agent = torch.load(latest_checkpoint(args.policy_uri) if args.policy_uri is not None else None, weights_only=False)
    if args.baseline:
        # the published one
        # tinyckpt-migrate: decided: TCK-M107 remote-uri = not-implemented: wandb:// checkpoints are not loaded any more (the plan drops them)
        raise NotImplementedError("tinyckpt loads local checkpoint files only: download wandb://run/navigation_baseline:v12 and pass its path")
        baseline_agent = torch.load("wandb://run/navigation_baseline:v12", weights_only=False)
        print(f"baseline: {sum(p.numel() for p in baseline_agent.parameters())} parameters")
    return agent
'''
    check_rule(RULES, REMOTE, after, config=Config(decisions=parse_decisions("simple")))
    undecided = run_rule(RULES, REMOTE)
    assert {kind_of(s.rule, s.message).code for s in undecided.sites if s.outcome == "manual"} >= {"TCK-M105",
                                                                                                   "TCK-M107"}
    # evaluated only sometimes (a lambda, a conditional expression): no raise can stand before it, it stays manual
    lazy = REMOTE.replace('baseline_agent = policy_store.policy_record("wandb://run/navigation_baseline:v12").policy',
                          'baseline_agent = (policy_store.policy_record("wandb://run/b:v1") if args.remote else None)')
    lazy = lazy.replace('print(f"baseline: {sum(p.numel() for p in baseline_agent.parameters())} parameters")',
                        "print(baseline_agent)")
    kept = run_rule(RULES, lazy, config=Config(decisions=parse_decisions("simple")))
    assert "NotImplementedError" not in kept.new_source
    assert any(kind_of(s.rule, s.message).code == "TCK-M107" for s in kept.sites if s.outcome == "manual")
    # a URI computed by a call is read twice by the decided form: policy_record_or_mock stays manual
    called = REMOTE.replace("policy_record_or_mock(args.policy_uri,", "policy_record_or_mock(args.uri(),")
    kept = run_rule(RULES, called, config=Config(decisions=parse_decisions("simple")))
    assert any(kind_of(s.rule, s.message).code == "TCK-M105" for s in kept.sites if s.outcome == "manual")


TYPE_CHECK = '''from metta.agent.policy_store import PolicyRecord, PolicyStore


def describe(policy) -> str:
    if isinstance(policy, PolicyRecord):
        return f"{policy.run_name}@{policy.metadata.epoch}"
    return str(policy)


def show(store: PolicyStore, uri):
    print(describe(store.policy_record(uri)))
'''


def test_type_check_str() -> None:
    """TCK-M111 = str: the check becomes isinstance(x, str), and in the narrowed branch x is a checkpoint path."""
    after = '''from tinyckpt import latest_checkpoint, parse_checkpoint_path


def describe(policy) -> str:
    # tinyckpt-migrate: decided: TCK-M111 type-check = str: a record is its checkpoint path now (a plain str passes this check too)
    if isinstance(policy, str):
        return f"{parse_checkpoint_path(policy)[0]}@{parse_checkpoint_path(policy)[1]}"
    return str(policy)


def show(uri):
    print(describe(latest_checkpoint(uri)))
'''
    check_rule(RULES, TYPE_CHECK, after, config=Config(decisions={"TCK-M111": "str"}))
    undecided = run_rule(RULES, TYPE_CHECK)
    assert "isinstance(policy, PolicyRecord)" in undecided.new_source
    assert any(kind_of(s.rule, s.message).code == "TCK-M111" for s in undecided.sites if s.outcome == "manual")


def _project(root: Path, files: dict[str, str], decisions: str) -> runner.RunResult:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    (root / "pyproject.toml").write_text(f'[project]\nname = "p"\n\n[tool.tinyckpt-migrate]\ndecisions = {decisions}\n',
                                         encoding="utf-8")
    return runner.run([root], find_config(root), jobs=1)


SELECTOR_CONFIG = {
    "app/__init__.py": "",
    "app/config.py": '''from dataclasses import dataclass, field

from metta.agent.policy_store import PolicySelectorConfig


@dataclass
class EvalConfig:
    uris: list[str] = field(default_factory=list)
    # Which checkpoints the leaderboard shows.
    ranking: PolicySelectorConfig = field(default_factory=lambda: PolicySelectorConfig(type="top", n=3, metric="reward"))
''',
    "app/main.py": '''from app.config import EvalConfig
from metta.agent.policy_store import PolicyStore


def leaders(store: PolicyStore, cfg: EvalConfig) -> list[str]:
    return [pr.uri for uri in cfg.uris for pr in store.policy_records(uri, selector_type="top", n=cfg.ranking.n)]
''',
}


def test_selector_config_drop_removes_a_field_nothing_uses_any_more(tmp_path: Path) -> None:
    """TCK-M102 = drop: the field goes with a comment when its only use is an argument a TCK-M101 decision drops;
    one more use anywhere in the project (here a YAML config naming it) keeps it, and its site manual."""
    result = _project(tmp_path / "p", SELECTOR_CONFIG, '"simple"')
    assert result.errors == [] and not result.manual
    config = {os.path.relpath(c.file, tmp_path / "p"): c for c in result.changes}["app/config.py"].new_text
    assert config is not None
    assert config.endswith('''    uris: list[str] = field(default_factory=list)
    # Which checkpoints the leaderboard shows.
    # tinyckpt-migrate: decided: TCK-M102 selector-config = drop: tinyckpt has no selectors; was `ranking: PolicySelectorConfig = field(default_factory=lambda: PolicySelectorConfig(type="top", n=3, metric="reward"))`
''') and "PolicySelectorConfig" not in config.split("# tinyckpt-migrate")[0]
    compile(config, "config.py", "exec")
    kept = _project(tmp_path / "q", {**SELECTOR_CONFIG, "conf/eval.yaml": "ranking:\n  n: 5\n"}, '"simple"')
    assert [(os.path.relpath(s.path, tmp_path / "q"), kind_of(s.rule, s.message).code) for s in kept.manual
            if s.rule != runner.KEEP_RULE] == \
        [("app/config.py", "TCK-M102")]
    undecided = _project(tmp_path / "r", SELECTOR_CONFIG, '{ selector-by-metric = "latest" }')
    assert ("app/config.py", "TCK-M102") in [(os.path.relpath(s.path, tmp_path / "r"), kind_of(s.rule, s.message).code)
                                             for s in undecided.manual]


HAND_SAVE = '''import os

from metta.agent.policy_record import PolicyRecord
from metta.agent.policy_store import PolicyStore


def export(policy_store: PolicyStore, agent, run: str, epoch: int, out_dir: str) -> str:
    path = os.path.abspath(os.path.join(out_dir, run, f"epoch_{epoch}.pt"))
    pr = PolicyRecord(policy_store, run, f"file://{path}", {"epoch": epoch, "reward": 1.0})
    pr.policy = agent
    policy_store.save(pr)
    return pr.file_path
'''


def test_record_built_by_hand_save_checkpoint() -> None:
    """TCK-M103 = save-checkpoint: the three statements become one save_checkpoint in the tinyckpt layout under
    the URI's base directory; the store goes with them, and the path only the URI read; the dropped metadata
    is named."""
    after = '''from tinyckpt import save_checkpoint


def export(agent, run: str, epoch: int, out_dir: str) -> str:
    # tinyckpt-migrate: decided: TCK-M103 record-built-by-hand = save-checkpoint: the agent alone, saved as out_dir/run/checkpoints/agent_epoch_<epoch>.pt (was os.path.abspath(os.path.join(out_dir, run, f"epoch_{epoch}.pt"))); metadata reward no longer saved
    pr = str(save_checkpoint(agent, run, epoch, base_dir=out_dir))
    return pr
'''
    check_rule(RULES, HAND_SAVE, after, config=Config(decisions={"TCK-M103": "save-checkpoint"}))
    undecided = run_rule(RULES, HAND_SAVE)
    assert "policy_store.save(pr)" in undecided.new_source
    assert any(kind_of(s.rule, s.message).code == "TCK-M103" for s in undecided.sites if s.outcome == "manual")
    # held back by another use: the three statements stay as they are, and so does the store they use
    held = HAND_SAVE.replace("    return pr.file_path\n", "    publish(pr)\n    return pr.file_path\n")
    kept = run_rule(RULES, held, config=Config(decisions={"TCK-M103": "save-checkpoint"}))
    assert kept.error is None and "policy_store.save(pr)" in kept.new_source and \
        "def export(policy_store: PolicyStore," in kept.new_source and "str(save_checkpoint(" not in kept.new_source
    # a URI not shaped <BASE>/<RUN>/<file> (the run is not its second part): no base directory, it stays manual
    odd = HAND_SAVE.replace('os.path.join(out_dir, run, f"epoch_{epoch}.pt")', 'os.path.join(out_dir, f"{run}.pt")')
    assert odd != HAND_SAVE
    kept = run_rule(RULES, odd, config=Config(decisions={"TCK-M103": "save-checkpoint"}))
    assert "policy_store.save(pr)" in kept.new_source and "str(save_checkpoint(" not in kept.new_source


def test_every_decision_on_the_half_example_leaves_no_manual_site(tmp_path: Path) -> None:
    """The same decisions on a SimplePolicyStore (record-or-mock, remote-uri) as on a PolicyStore: with all of
    them taken the half-migrated example has no manual site, and its legacy modules all go."""
    root = tmp_path / "half"
    shutil.copytree(FIXTURES / "legacy_half", root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    with (root / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write('\n[tool.tinyckpt-migrate]\ndecisions = "simple"\n')
    result = runner.run([root], find_config(root), jobs=1)
    assert result.errors == [] and result.manual == []
    play = next(c.new_text for c in result.changes if c.file.endswith(os.path.join("tools", "play.py")))
    assert play is not None
    assert "    pr = latest_checkpoint(args.policy_uri) if args.policy_uri is not None else None\n" in play
    assert 'raise NotImplementedError("tinyckpt loads local checkpoint files only: download wandb://run/baseline:v3' in play
    gone = {os.path.relpath(c.file, root).replace(os.sep, "/") for c in result.changes if c.deleted}
    assert {"metta/sim/simple_policy_store.py", "metta/sim/policy_wrapper.py",
            "metta/rl/simple_checkpoint_manager.py"} <= gone


UPLOAD = '''from metta.agent.policy_store import PolicyStore


def publish(store: PolicyStore, uri, run_id):
    pr = store.policy_record(uri)
    store.add_to_wandb_run(run_id, pr)
    return pr.run_name


def other(client, pr):
    client.add_to_wandb_run("x", pr)
'''


def test_remote_uri_not_implemented_raises_where_a_store_uploads_to_wandb() -> None:
    """A statement that is a store's wandb upload becomes a raise naming it (the record it took migrates with its
    unit); a same-named method of another object is left alone; undecided, the upload is a TCK-M107 site."""
    after = '''from tinyckpt import latest_checkpoint, parse_checkpoint_path


def publish(uri, run_id):
    pr = latest_checkpoint(uri)
    # tinyckpt-migrate: decided: TCK-M107 remote-uri = not-implemented: wandb uploads are not done any more (the plan drops them)
    raise NotImplementedError("tinyckpt does not upload to wandb (add_to_wandb_run): publish the checkpoint file another way")
    return parse_checkpoint_path(pr)[0]


def other(client, pr):
    client.add_to_wandb_run("x", pr)
'''
    check_rule(RULES, UPLOAD, after, config=Config(decisions={"TCK-M107": "not-implemented"}))
    undecided = run_rule(RULES, UPLOAD)
    assert "    store.add_to_wandb_run(run_id, pr)\n" in undecided.new_source
    assert "TCK-M107" in {kind_of(s.rule, s.message).code for s in undecided.sites if s.outcome == "manual"}  # type: ignore[union-attr]
    used = UPLOAD.replace("    store.add_to_wandb_run(run_id, pr)\n", "    url = store.add_to_wandb_run(run_id, pr)\n    print(url)\n")
    kept = run_rule(RULES, used, config=Config(decisions={"TCK-M107": "not-implemented"}))
    assert "url = store.add_to_wandb_run(run_id, pr)" in kept.new_source and "NotImplementedError" not in kept.new_source
