"""The whole migration as one LibCST codemod command (codemods/migrate.py), run by LibCST's own runner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEGACY = "from metta.agent.policy_metadata import PolicyMetadata\n\n\ndef row(epoch):\n    return PolicyMetadata(epoch=epoch)\n"
MANUAL = "from metta.agent.policy_store import PolicyStore\n\n\ndef load(store: PolicyStore):\n    return store.policy_record(\"wandb://run/x\")\n"


def test_libcst_runner_migrates_each_file_on_its_own(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.tinyckpt-migrate]\n")
    (tmp_path / "meta.py").write_text(LEGACY)
    (tmp_path / "manual.py").write_text(MANUAL)
    (tmp_path / "plain.py").write_text("import os\n")
    done = subprocess.run([sys.executable, "-m", "libcst.tool", "codemod", "migrate.Migrate",
                           "--hide-progress", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "meta.py").read_text() == (
        'def row(epoch):\n    return dict({"agent_step": 0, "epoch": 0, "generation": 0, "train_time": 0.0}, '
        'epoch=epoch)\n')
    manual = (tmp_path / "manual.py").read_text()
    assert "# tinyckpt-migrate: manual: wandb:// URIs have no tinyckpt counterpart" in manual
    assert "wandb://" in done.stderr  # the manual site is a warning of the runner
    assert (tmp_path / "plain.py").read_text() == "import os\n"
    assert "Failed to codemod 0 files" in done.stderr


def test_a_project_of_its_own_runs_it_from_its_own_libcst_config(tmp_path: Path) -> None:
    """What a user does (docs/migration.md): their `.libcst.codemod.yaml` lists the installed `codemods`."""
    (tmp_path / ".libcst.codemod.yaml").write_text("generated_code_marker: '@generated'\nformatter: ['cat']\n"
                                                   "blacklisted_patterns: []\nmodules:\n- 'codemods'\nrepo_root: '.'\n")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'mine'\n")
    (tmp_path / "meta.py").write_text(LEGACY)
    done = subprocess.run([sys.executable, "-m", "libcst.tool", "codemod", "migrate.Migrate", "--hide-progress", "."],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "PolicyMetadata" not in (tmp_path / "meta.py").read_text()
