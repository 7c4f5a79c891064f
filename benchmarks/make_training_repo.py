#!/usr/bin/env python3
"""Generate a benchmark project shaped like a real ML training repository (deterministic, seeded).

    python benchmarks/make_training_repo.py OUT_DIR [--files 600] [--legacy 35] [--seed 0]

What it writes into OUT_DIR (which must not exist or be empty):

- `pyproject.toml`, `README.md` (mentions legacy names, as real READMEs do);
- packages `metta/agent`, `metta/rl`, `metta/sim` (with sub-packages), `metta/common`,
  `metta/mettagrid`, `metta/eval`, `metta/map`, and top-level `tools/`, `configs/`, `tests/`;
- the legacy modules at their default module paths, copied from the example projects in
  `fixtures/legacy_full` (PolicyStore, PolicyRecord, PolicyMetadata, PolicyCache, MockPolicyRecord,
  TrainerCheckpoint) and `fixtures/legacy_half` (SimpleCheckpointManager, SimplePolicyStore,
  PolicyWrapper): both legacy states in one tree;
- `--legacy` files that USE the legacy API (not counting the copied legacy modules themselves):
  fixed entry points, fixtures and helpers first, then "scenarios" of 5-6 files each, alternating
  full-legacy (a tool builds a PolicyStore, a trainer returns a PolicyRecord, an evaluation module
  and a report module receive it: records go 3-4 calls deep and across files) and half-migrated
  (SimpleCheckpointManager threaded through a trainer class, SimplePolicyStore handing out
  PolicyWrappers to an evaluator and a leaderboard), each with its tests. pytest fixtures yield
  stores, managers and records; shapes follow shared/legacy-api.md "How it is used" (lazy and
  `TYPE_CHECKING` imports, commented-out imports, `# noqa` late imports, re-exports with `__all__`,
  `cast`, `isinstance`, `Optional[...]`/`list[...]`/`dict[...]` annotations, MagicMock stores,
  thread-pool `submit`, selectors "top"/"latest"/"all", `wandb://` URIs, ...). Each is padded
  with ordinary code to a realistic size;
- the rest: ordinary modules (50-400 lines: dataclass configs, nn.Modules, plain classes,
  functions with docstrings, imports between packages) and their tests. The common names `main`,
  `train`, `evaluate`, `run`, `setup`, `describe`, `config` are defined and used in most files.
  A few ordinary files mention legacy names in comments, docstrings or strings, and two define
  unrelated classes spelled like legacy ones (`PolicyMetadata`, a `PolicyStoreClient`).

Every file parses (checked with `ast.parse` before the generator exits). The same arguments give
the same bytes. A summary (file counts, lines) is printed at the end.
"""

from __future__ import annotations

import argparse
import ast
import math
import random
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"

#: generated path -> fixture file it is copied from (the legacy class definitions, both states).
LEGACY_COPIES = {
    "metta/agent/policy_store.py": "legacy_full/metta/agent/policy_store.py",
    "metta/agent/policy_record.py": "legacy_full/metta/agent/policy_record.py",
    "metta/agent/policy_metadata.py": "legacy_full/metta/agent/policy_metadata.py",
    "metta/agent/policy_cache.py": "legacy_full/metta/agent/policy_cache.py",
    "metta/agent/mocks/__init__.py": "legacy_full/metta/agent/mocks/__init__.py",
    "metta/agent/mocks/mock_policy_record.py": "legacy_full/metta/agent/mocks/mock_policy_record.py",
    "metta/rl/trainer_checkpoint.py": "legacy_full/metta/rl/trainer_checkpoint.py",
    "metta/rl/simple_checkpoint_manager.py": "legacy_half/metta/rl/simple_checkpoint_manager.py",
    "metta/sim/simple_policy_store.py": "legacy_half/metta/sim/simple_policy_store.py",
    "metta/sim/policy_wrapper.py": "legacy_half/metta/sim/policy_wrapper.py",
}

COMMON = ("main", "train", "evaluate", "run", "setup", "describe", "config")
#: names a module alias must not take (stdlib modules the generated code uses, common locals)
SHADOWS = frozenset({"logging", "json", "os", "math", "time", "argparse", "torch", "nn", "optimizer", "field",
                     "dataclass", "values", "scores", "results", "cfg", "path", "name", "count", *COMMON})

# -- fixed ordinary modules the legacy code imports ---------------------------------------------------

AGENT_PY = '''\
"""The agents: a tiny MLP (TinyAgent) and the configurable MettaAgent built by make_agent()."""

import torch
from torch import nn

OBS_DIM = 4
NUM_ACTIONS = 2


class TinyAgent(nn.Module):
    def __init__(self, obs_dim: int = OBS_DIM, num_actions: int = NUM_ACTIONS, hidden: int = 16):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, num_actions))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.forward(obs).argmax(dim=-1)


class MettaAgent(TinyAgent):
    """A TinyAgent with a name and a description, as the tools print it."""

    def __init__(self, name: str = "metta", hidden: int = 32):
        super().__init__(hidden=hidden)
        self.name = name
        self.hidden = hidden

    def describe(self) -> str:
        params = sum(p.numel() for p in self.parameters())
        return f"{self.name}: {params} parameters (hidden {self.hidden})"


def make_agent(seed: int = 0, hidden: int = 32) -> MettaAgent:
    torch.manual_seed(seed)
    return MettaAgent(hidden=hidden)
'''

ENV_PY = '''\
"""The toy environment: observations are 4 floats, the best action is whether their sum is positive."""

import torch

from metta.agent.agent import NUM_ACTIONS, OBS_DIM


def make_batch(seed: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    obs = torch.randn(batch_size, OBS_DIM, generator=generator)
    return obs, (obs.sum(dim=-1) > 0).long()


def episode_reward(agent, seed: int, steps: int = 16) -> float:
    """Fraction of steps on which `agent` picks the best action (0.5 is chance)."""
    obs, best = make_batch(seed, steps)
    with torch.no_grad():
        actions = agent(obs).argmax(dim=-1)
    return float((actions == best).float().mean())


class ToyEnv:
    def __init__(self, batch_size: int = 64, seed: int = 0):
        self.batch_size = batch_size
        self._generator = torch.Generator().manual_seed(seed)

    def observe(self) -> torch.Tensor:
        return torch.randn(self.batch_size, OBS_DIM, generator=self._generator)

    def best_actions(self, obs: torch.Tensor) -> torch.Tensor:
        return (obs.sum(dim=-1) > 0).long() % NUM_ACTIONS

    def reward(self, obs: torch.Tensor, actions: torch.Tensor) -> float:
        return float((actions == self.best_actions(obs)).float().mean())
'''

# -- vocabulary ---------------------------------------------------------------------------------------

#: package directory -> (weight of the ordinary modules, module nouns, qualifiers, docstring topic)
PACKAGES: dict[str, tuple[float, list[str], list[str], str]] = {
    "metta/common/util": (5, ["logging", "config", "stopwatch", "system_monitor", "fs", "git", "datastruct", "retry",
                              "numpy_helpers", "colorama", "heartbeat", "lock", "resolvers", "typed_config",
                              "runtime_configuration", "cli", "mpi", "collections", "text", "timing"],
                          ["", "async", "safe", "cached"], "shared utilities"),
    "metta/common/wandb": (1.5, ["wandb_context", "artifacts", "sweep", "run_info", "logging", "tables"],
                           ["", "offline"], "Weights & Biases helpers"),
    "metta/common/profiling": (1.5, ["memory_monitor", "torch_profiler", "timers", "flame", "counters"],
                               ["", "cuda"], "profiling helpers"),
    "metta/mettagrid": (5, ["mettagrid_env", "curriculum", "level_builder", "replay_writer", "stats_writer", "actions",
                            "observations", "objects", "inventory", "rewards", "episode", "grid", "char_encoder",
                            "map_util", "validators", "renderer", "config_loader", "gym_wrapper"],
                        ["", "multi", "random", "fast"], "the grid environment"),
    "metta/mettagrid/room": (3, ["room", "room_list", "multi_room", "mean_distance", "maze", "cylinder", "bsp",
                                 "terrain", "navigation_room", "convchain", "wfc"],
                             ["", "random", "nested"], "room generators"),
    "metta/map": (3, ["scene", "node", "load", "mapgen", "random_scene", "utils", "grid_ops", "storable_map",
                      "area", "transform", "mirror", "inline_ascii"],
                  ["", "auto", "lazy"], "map generation"),
    "metta/map/scenes": (2.5, ["maze", "bsp", "room_grid", "random_objects", "wfc", "convchain", "mean_distance",
                               "layout", "nop", "remove_agents", "ascii"],
                         ["", "radial", "inline"], "map scenes"),
    "metta/agent": (2.5, ["metta_agent", "policy_state", "distribution_utils", "brain_policy", "agent_config",
                          "external_policy", "model_summary"],
                    ["", "mock", "pytorch"], "agents and their parts"),
    "metta/agent/components": (4, ["encoders", "lstm", "actor", "critic", "obs_shaper", "embeddings", "attention",
                                   "normalizer", "action_head", "feature_encoder", "transformer", "layer_norm",
                                   "recurrent_core", "value_head", "action_embedding", "weight_init", "obs_token"],
                               ["", "fast", "linear", "masked"], "network components"),
    "metta/agent/util": (1.5, ["debug", "safe_get", "weights_analysis", "initializers", "checks"],
                         ["", "tensor"], "agent utilities"),
    "metta/rl": (5, ["losses", "advantage", "experience", "rollout", "vecenv", "stats", "schedulers", "optimizers",
                     "functions", "hyperparameter_scheduler", "kickstarter_config", "ppo", "trainer_config",
                     "torch_profiler", "policy_loss", "value_loss", "entropy", "prioritized_replay", "gae",
                     "batch_info", "evaluate_config", "contrastive"],
                 ["", "fast", "cuda", "distributed"], "reinforcement learning"),
    "metta/rl/util": (2, ["batch_utils", "rollout_utils", "optimization", "stats_utils", "distributed",
                          "policy_management", "advantage_utils"],
                      ["", "torch"], "trainer utilities"),
    "metta/sim": (3.5, ["simulation_config", "vecenv", "replay", "stats_db", "episode", "renderer", "map_preview",
                        "simulation_stats", "sim_suite", "video", "timing"],
                  ["", "batched", "remote"], "simulation"),
    "metta/sim/maps": (1.5, ["arena_map", "lab_map", "object_map", "terrain_map"], ["", "small"], "simulation maps"),
    "metta/eval": (3, ["analysis", "dashboard", "eval_stats_db", "heatmap", "report", "metrics", "charts", "queries",
                       "scorecard", "aggregation"],
                   ["", "policy"], "evaluation and analysis"),
    "configs": (1.5, ["defaults", "paths", "hardware", "logging_config", "wandb_config"], ["", "local"],
                "configuration"),
    "configs/trainer": (2, ["ppo", "optimizer", "schedule", "checkpoint", "distributed", "profiler"],
                        ["", "fast", "debug"], "trainer configuration"),
    "configs/env": (2, ["mettagrid", "navigation", "arena", "objects", "rewards", "curriculum"],
                    ["", "small", "large"], "environment configuration"),
    "configs/sim": (1.5, ["suites", "eval_maps", "replay", "navigation_suite"], ["", "quick"], "simulation configuration"),
    "tools": (4, ["renderer", "dashboard", "analyze", "sweep_init", "sweep_eval", "sweep_config", "replay",
                  "upload_map", "validate_config", "export_onnx", "benchmark_env", "profile_policy", "map_preview",
                  "dump_config", "stats_server", "inspect_checkpoint"],
              ["", "batch", "local"], "a command-line tool"),
}

VERBS = ["compute", "build", "load", "normalize", "merge", "sample", "collect", "update", "clip", "summarize",
         "parse", "format", "split", "select", "aggregate", "smooth", "resolve", "filter", "rank", "pack",
         "flatten", "encode", "decode", "estimate", "prepare", "schedule", "validate", "reduce"]
NOUNS = ["rewards", "returns", "advantages", "weights", "stats", "episodes", "batches", "actions", "observations",
         "metrics", "logits", "values", "grid", "rooms", "tokens", "features", "gradients", "scores", "steps",
         "segments", "labels", "entries", "layers", "buckets", "timings", "keys", "objects", "positions"]
CLASS_NOUNS = ["Buffer", "Tracker", "Scheduler", "Builder", "Encoder", "Sampler", "Registry", "Monitor", "Cache",
               "Aggregator", "Writer", "Reader", "Planner", "Profiler", "Normalizer", "Router", "Collector"]
ADJ = ["fast", "simple", "running", "batched", "masked", "sparse", "dense", "rolling", "shared", "lazy", "robust",
       "weighted", "local", "global", "adaptive"]
DOMAINS = ["navigation", "arena", "memory", "combat", "foraging", "maze", "cooperation", "exploration",
           "object_use", "sparse_reward", "terrain", "multiagent"]


def camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_") if part)


# -- ordinary code ------------------------------------------------------------------------------------

@dataclass
class Export:
    """A callable another module may import: name, kind of signature."""

    name: str
    kind: str  # values | name | path | tensor


@dataclass
class ModInfo:
    module: str  # dotted name
    path: str  # relative file path
    stem: str
    config_cls: str
    exports: list[Export] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    commons: list[str] = field(default_factory=list)  # common names defined at module level


def call_for(kind: str, fn: str, rng: random.Random, have_values: bool = False) -> str:
    if kind == "values":
        if have_values and rng.random() < 0.5:
            return f"{fn}(values)"
        nums = ", ".join(f"{rng.uniform(-2, 2):.2f}" for _ in range(rng.randint(2, 4)))
        return f"{fn}([{nums}], scale={rng.choice(['0.5', '1.0', '2.0', '0.99'])})"
    if kind == "name":
        return f'{fn}("{rng.choice(NOUNS)}", count={rng.randint(2, 6)})'
    if kind == "path":
        return f'{fn}(os.path.join("{rng.choice(["train_dir", "configs", "replays", "maps"])}", "{rng.choice(NOUNS)}.json"))'
    if kind == "tensor":
        return f"{fn}(torch.randn({rng.randint(2, 8)}, {rng.choice([4, 8, 16, 32])}))"
    raise ValueError(kind)


def values_body(rng: random.Random, name: str) -> list[str]:
    k = rng.randint(2, 7)
    variants = [
        ["if not values:", "    return 0.0", "total = 0.0", "for i, value in enumerate(values):",
         f"    if i % {k} == {rng.randint(0, k - 1)}:", "        continue", "    total += value * scale",
         f"return total / max(len(values) - len(values) // {k}, 1)"],
        [f"weights = [math.exp(-{rng.uniform(0.01, 0.5):.3f} * i) for i in range(len(values))]",
         "norm = sum(weights) or 1.0", "result = sum(w * v for w, v in zip(weights, values)) / norm",
         f'logger.debug("%s: %.4f over %d values", "{name}", result, len(values))', "return result * scale"],
        [f"clipped = [min(max(v, -{rng.uniform(1, 10):.1f}), {rng.uniform(1, 10):.1f}) for v in values]",
         "mean = sum(clipped) / len(clipped) if clipped else 0.0",
         "var = sum((v - mean) ** 2 for v in clipped) / max(len(clipped) - 1, 1)",
         f"return scale * mean / math.sqrt(var + {rng.choice(['1e-8', '1e-6', '1e-5'])})"],
        ["running = 0.0", "discounted = []", "for value in reversed(values):",
         f"    running = value + {rng.choice(['0.99', '0.97', '0.95', '0.9'])} * running",
         "    discounted.append(running)", "discounted.reverse()",
         "return scale * (discounted[0] if discounted else 0.0)"],
        ["window: list[float] = []", "best = float(\"-inf\")", "for value in values:", "    window.append(value)",
         f"    if len(window) > {rng.randint(3, 12)}:", "        window.pop(0)",
         "    best = max(best, sum(window) / len(window))", "return scale * (best if values else 0.0)"],
    ]
    return rng.choice(variants)


def name_body(rng: random.Random) -> list[str]:
    variants = [
        ['parts = [part for part in name.replace("-", "_").split("_") if part]',
         'labels = [f"{name}_{i:02d}" for i in range(count)]',
         f"if parts and parts[0] in {sorted(rng.sample(NOUNS, 3))!r}:", "    labels.insert(0, parts[0])",
         "return labels[:count]"],
        ["seen: dict[str, int] = {}", "out = []", "for i in range(count):",
         f'    key = f"{{name}}/{{i % {rng.randint(2, 5)}}}"', "    seen[key] = seen.get(key, 0) + 1",
         '    out.append(f"{key}#{seen[key]}")', "return out"],
        ["if count <= 0:", '    raise ValueError(f"count must be positive, got {count}")',
         'return [name.upper() if i == 0 else f"{name}.{i}" for i in range(count)]'],
    ]
    return rng.choice(variants)


def path_body(rng: random.Random) -> list[str]:
    variants = [
        ["if not os.path.exists(path):", '    logger.warning("no file at %s", path)', "    return {}",
         "with open(path) as f:", "    data = json.load(f)",
         'return {str(k): v for k, v in data.items() if not str(k).startswith("_")}'],
        ["root, ext = os.path.splitext(path)",
         f'info: dict[str, Any] = {{"root": root, "ext": ext or "{rng.choice([".json", ".yaml", ".pt"])}"}}',
         "try:", "    info[\"size\"] = os.path.getsize(path)", "except OSError as exc:",
         '    logger.debug("cannot stat %s: %s", path, exc)', '    info["size"] = None', "return info"],
        ["entries: dict[str, Any] = {}", "directory = os.path.dirname(path) or \".\"",
         "if os.path.isdir(directory):", "    for entry in sorted(os.listdir(directory)):",
         f'        if entry.endswith("{rng.choice([".json", ".yaml", ".csv"])}"):',
         "            entries[entry] = os.path.join(directory, entry)", "return entries"],
    ]
    return rng.choice(variants)


def tensor_body(rng: random.Random) -> list[str]:
    eps = rng.choice(["1e-8", "1e-6", "1e-5"])
    variants = [
        ["if x.dim() == 1:", "    x = x.unsqueeze(0)", "x = x - x.mean(dim=dim, keepdim=True)",
         f"return x / (x.std(dim=dim, keepdim=True) + {eps})"],
        ["probs = torch.softmax(x, dim=dim)", f"entropy = -(probs * torch.log(probs + {eps})).sum(dim=dim)",
         "return entropy.clamp(min=0.0)"],
        [f"mask = x.abs() > {rng.uniform(0.01, 0.5):.2f}", "out = torch.where(mask, x, torch.zeros_like(x))",
         "return out.cumsum(dim=dim)"],
    ]
    return rng.choice(variants)


SIGS = {
    "values": "(values: list[float], scale: float = 1.0) -> float",
    "name": "(name: str, count: int = 3) -> list[str]",
    "path": "(path: str) -> dict[str, Any]",
    "tensor": "(x: torch.Tensor, dim: int = -1) -> torch.Tensor",
}
DOCS = {
    "values": ["Reduce `values` to one number, scaled by `scale`.", "A weighted summary of `values`.",
               "The statistic the dashboards plot, from raw `values`."],
    "name": ["Labels derived from `name`, at most `count` of them.", "Unique keys for `count` items named `name`."],
    "path": ["What is known about the file at `path` (empty if it is missing).", "Read the JSON file at `path`."],
    "tensor": ["Normalise `x` along `dim`.", "A per-row statistic of `x` along `dim`."],
}


def body_for(kind: str, rng: random.Random, name: str) -> list[str]:
    return {"values": lambda: values_body(rng, name), "name": lambda: name_body(rng),
            "path": lambda: path_body(rng), "tensor": lambda: tensor_body(rng)}[kind]()


def indent(lines: list[str], n: int = 4) -> list[str]:
    pad = " " * n
    return [pad + line if line else "" for line in lines]


def helper_function(rng: random.Random, name: str, kind: str, calls: list[str]) -> list[str]:
    body = body_for(kind, rng, name)
    if calls and rng.random() < 0.6:
        extra = rng.choice(calls)
        var = f"{rng.choice(NOUNS)}_info"
        body = [f"{var} = {extra}", f'logger.debug("{name}: %s", {var})', *body]
    doc = rng.choice(DOCS[kind])
    return [f"def {name}{SIGS[kind]}:", f'    """{doc}"""', *indent(body), ""]


def config_class(rng: random.Random, cls: str, stem: str) -> list[str]:
    fields = [f'name: str = "{stem}"']
    pool = [f"batch_size: int = {rng.choice([16, 32, 64, 128, 256])}",
            f"learning_rate: float = {rng.choice(['3e-4', '1e-3', '0.01', '2.5e-4'])}",
            f"enabled: bool = {rng.choice(['True', 'False'])}", "tags: list[str] = field(default_factory=list)",
            f"seed: int = {rng.randint(0, 99)}", f"num_workers: int = {rng.choice([1, 2, 4, 8])}",
            f"gamma: float = {rng.choice(['0.99', '0.977', '0.95'])}", "device: str = \"cpu\"",
            f"max_steps: int = {rng.choice([1000, 10_000, 50_000])}", "output_dir: Optional[str] = None"]
    fields += rng.sample(pool, rng.randint(3, 7))
    first = fields[1].split(":")[0]
    return ["@dataclass", f"class {cls}:", f'    """Settings for {stem.replace("_", " ")}."""', "",
            *indent(fields), "", "    def describe(self) -> str:",
            f'        return f"{{self.name}} ({first}={{self.{first}}})"', ""]


def nn_class(rng: random.Random, cls: str, cfg: str, has_train: bool) -> list[str]:
    hidden = rng.choice([32, 64, 128, 256])
    lines = [f"class {cls}(nn.Module):", f'    """{rng.choice(ADJ).capitalize()} {cls} over {hidden}-wide features."""',
             "", f"    def __init__(self, cfg: Optional[{cfg}] = None, hidden: int = {hidden}):",
             "        super().__init__()", f"        self.cfg = cfg or {cfg}()", "        self.hidden = hidden",
             "        self.layers = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden))",
             "        self._steps = 0", "        self.setup()", "", "    def setup(self) -> None:",
             "        for module in self.layers:", "            if isinstance(module, nn.Linear):",
             f"                nn.init.orthogonal_(module.weight, gain={rng.choice(['1.0', '0.01', 'math.sqrt(2)'])})",
             "                nn.init.zeros_(module.bias)", "",
             "    def forward(self, x: torch.Tensor) -> torch.Tensor:", "        self._steps += 1",
             "        return self.layers(x)", "", "    def evaluate(self, x: torch.Tensor) -> float:",
             "        with torch.no_grad():", "            return float(self.forward(x).mean())", ""]
    if has_train:
        lines += ["    def fit(self, batches: list[torch.Tensor], lr: float = 1e-3) -> list[float]:",
                  "        optimizer = torch.optim.Adam(self.parameters(), lr=lr)", "        self.train()",
                  "        losses = []", "        for batch in batches:", "            loss = self.forward(batch).pow(2).mean()",
                  "            optimizer.zero_grad()", "            loss.backward()", "            optimizer.step()",
                  "            losses.append(loss.item())", "        return losses", ""]
    lines += ["    def describe(self) -> str:", '        return f"{type(self).__name__}(hidden={self.hidden}, steps={self._steps})"', ""]
    return lines


def plain_class(rng: random.Random, cls: str, cfg: str, stem: str, calls: list[str]) -> list[str]:
    cap = rng.choice([8, 16, 64, 128, 1000])
    reduce = "sum(self._items) / len(self._items) if self._items else 0.0"
    lines = [f"class {cls}:", f'    """Keeps the last {cap} values of {stem.replace("_", " ")} and summarises them."""', "",
             f'    def __init__(self, name: str = "{stem}", capacity: int = {cap}):', "        self.name = name",
             "        self.capacity = capacity", "        self._items: list[float] = []",
             f"        self._config = {cfg}(name=name)", "", "    @property", f"    def config(self) -> {cfg}:",
             "        return self._config", "", "    def add(self, value: float) -> None:",
             "        self._items.append(value)", "        if len(self._items) > self.capacity:",
             "            self._items.pop(0)", "", "    def run(self, values: list[float]) -> float:",
             "        for value in values:", "            self.add(value)", f"        return {reduce}", "",
             f"    def train(self, steps: int = {rng.randint(3, 20)}) -> list[float]:", "        history = []",
             "        for step in range(steps):", f"            history.append(self.run([float(step)] * {rng.randint(1, 4)}))",
             "        return history", "", "    def evaluate(self) -> dict[str, float]:", "        if not self._items:",
             '            return {"mean": 0.0, "max": 0.0}',
             '        return {"mean": sum(self._items) / len(self._items), "max": max(self._items)}', ""]
    if calls and rng.random() < 0.5:
        lines += ["    def refresh(self) -> None:", f"        self._last = {rng.choice(calls)}",
                  '        logger.debug("%s refreshed: %s", self.name, self._last)', ""]
    lines += ["    def describe(self) -> str:", '        return f"{self.name}: {len(self._items)}/{self.capacity} items"', ""]
    return lines


def common_function(rng: random.Random, name: str, cfg: str, stem: str, defined: set[str], calls: list[str],
                    exports: list[Export]) -> list[str]:
    values_fn = next((e.name for e in exports if e.kind == "values"), None)
    if name == "describe":
        return ["def describe(obj: Any) -> str:", '    """A one-line description of `obj` for logs."""',
                '    if hasattr(obj, "describe"):', "        return obj.describe()", "    if isinstance(obj, dict):",
                '        return ", ".join(f"{k}={v}" for k, v in sorted(obj.items()))', "    return repr(obj)", ""]
    if name == "setup":
        return [f"def setup(cfg: Optional[{cfg}] = None, **overrides: Any) -> {cfg}:",
                f'    """A {cfg} with `overrides` applied; unknown fields are an error."""', f"    cfg = cfg or {cfg}()",
                "    for key, value in overrides.items():", "        if not hasattr(cfg, key):",
                '            raise AttributeError(f"{type(cfg).__name__} has no field {key!r}")',
                "        setattr(cfg, key, value)", '    logger.debug("setup: %s", cfg.describe())', "    return cfg", ""]
    if name == "config":
        make = f"setup({cfg}(), **overrides)" if "setup" in defined else f"{cfg}(**overrides)"
        return ["def config(**overrides: Any) -> " + cfg + ":", f'    """The {stem.replace("_", " ")} configuration."""',
                f"    return {make}", ""]
    if name == "run":
        step = call_for("values", values_fn, rng) if values_fn else f"float(step) * {rng.choice(['0.5', '2.0'])}"
        extra = [f"    results[\"extra\"] = {rng.choice(calls)}"] if calls and rng.random() < 0.7 else []
        return [f"def run(cfg: Optional[{cfg}] = None) -> dict[str, Any]:",
                f'    """Run {stem.replace("_", " ")} once with `cfg` (defaults if None); returns a summary."""',
                f"    cfg = cfg or {cfg}()", "    start = time.perf_counter()",
                '    results: dict[str, Any] = {"name": cfg.name}', f"    for step in range({rng.randint(2, 6)}):",
                f'        results[f"step_{{step}}"] = {step}', *extra,
                '    results["elapsed"] = time.perf_counter() - start',
                '    logger.info("%s finished in %.2fs", cfg.describe(), results["elapsed"])', "    return results", ""]
    if name == "evaluate":
        inner = f"{values_fn}(scores)" if values_fn else "sum(scores) / len(scores)"
        return ["def evaluate(scores: list[float], threshold: float = 0.5) -> dict[str, float]:",
                '    """Pass rate and mean of `scores` (empty scores evaluate to zeros)."""', "    if not scores:",
                '        return {"mean": 0.0, "pass_rate": 0.0}', "    passed = [s for s in scores if s >= threshold]",
                f'    return {{"mean": {inner}, "pass_rate": len(passed) / len(scores)}}', ""]
    if name == "train":
        return ["def train(model: nn.Module, batches: list[torch.Tensor], lr: float = 1e-3) -> list[float]:",
                '    """A few plain gradient steps on `batches` (a smoke test of the pipeline)."""',
                "    optimizer = torch.optim.SGD(model.parameters(), lr=lr)", "    losses: list[float] = []",
                "    for batch in batches:", "        loss = model(batch).pow(2).mean()", "        optimizer.zero_grad()",
                "        loss.backward()", "        optimizer.step()", "        losses.append(loss.item())",
                '    logger.info("trained on %d batches, last loss %.4f", len(batches), losses[-1] if losses else 0.0)',
                "    return losses", ""]
    raise ValueError(name)


def main_function(rng: random.Random, stem: str, cfg: str, defined: set[str], mod_calls: list[str],
                  mention: str | None) -> list[str]:
    help_text = mention or f"name of the {stem.replace('_', ' ')} run"
    lines = ["def main(argv: Optional[list[str]] = None) -> int:", "    parser = argparse.ArgumentParser(description=__doc__)",
             f'    parser.add_argument("--name", default="{stem}", help="{help_text}")',
             f'    parser.add_argument("--batch-size", type=int, default={rng.choice([16, 32, 64])})',
             '    parser.add_argument("--verbose", action="store_true")', "    args = parser.parse_args(argv)",
             "    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)"]
    if "config" in defined:
        lines.append("    cfg = config(name=args.name, batch_size=args.batch_size)")
    elif "setup" in defined:
        lines.append("    cfg = setup(name=args.name, batch_size=args.batch_size)")
    else:
        lines.append(f"    cfg = {cfg}(name=args.name, batch_size=args.batch_size)")
    if "run" in defined:
        lines += ["    result = run(cfg)", "    print(describe(result))"]
    else:
        lines += ["    print(describe(cfg))"]
    if "evaluate" in defined:
        lines += [f"    print(evaluate([{', '.join(f'{rng.random():.2f}' for _ in range(3))}]))"]
    for call in mod_calls[:2]:
        lines.append(f"    print({call})")
    lines += ["    return 0", ""]
    return lines


def import_block(text: str, project_imports: list[str], future: bool) -> list[str]:
    """stdlib / third-party / first-party import groups for the names the body uses."""
    std, third = [], []
    for mod in ("argparse", "json", "logging", "math", "os", "time"):
        if re.search(rf"\b{mod}\.", text):
            std.append(f"import {mod}")
    dc = [n for n in ("dataclass", "field") if re.search(r"(@dataclass\b|\bfield\()", text) and
          (n == "dataclass" and "@dataclass" in text or n == "field" and "field(" in text)]
    if dc:
        std.append(f"from dataclasses import {', '.join(dc)}")
    typ = [n for n in ("Any", "Optional") if re.search(rf"\b{n}\b", text)]
    if typ:
        std.append(f"from typing import {', '.join(typ)}")
    if re.search(r"\btorch\.", text):
        third.append("import torch")
    if re.search(r"\bnn\.", text):
        third.append("from torch import nn")
    out = ["from __future__ import annotations", ""] if future else []
    for group in (std, third, sorted(project_imports)):
        if group:
            out += group + [""]
    return out


def ordinary_module(rng: random.Random, info: ModInfo, topic: str, deps: list[ModInfo], target: int, *,
                    is_tool: bool, mention: str | None = None, reserved: frozenset[str] = frozenset(),
                    header: list[str] | None = None) -> str:
    """An ordinary module of about `target` lines; records its exports into `info`.

    With `header` (the legacy part of a legacy-touching module), the ordinary code is padding: it
    defines none of `reserved` and no module-level common names."""
    padding = header is not None
    cfg = info.config_cls
    bound: set[str] = set(reserved)
    project_imports: list[str] = []
    calls: list[str] = []  # call expressions of imported callables
    mod_calls: list[str] = []
    for dep in deps:
        usable = [e for e in dep.exports if e.name not in bound]
        if dep.commons and "describe" in dep.commons and rng.random() < 0.5:
            alias = dep.stem if dep.stem not in bound | SHADOWS else f"{dep.module.split('.')[-2]}_{dep.stem}"
            if alias in bound:
                continue
            bound.add(alias)
            parent, _, leaf = dep.module.rpartition(".")
            project_imports.append(f"from {parent} import {leaf}" + (f" as {alias}" if alias != leaf else ""))
            mod_calls.append(f"{alias}.describe({alias}.{dep.config_cls}())")
            if "evaluate" in dep.commons:
                mod_calls.append(f"{alias}.evaluate([{rng.random():.2f}, {rng.random():.2f}])")
            ex = [e for e in dep.exports]
            if ex:
                e = rng.choice(ex)
                calls.append(call_for(e.kind, f"{alias}.{e.name}", rng))
        elif usable:
            chosen = rng.sample(usable, min(len(usable), rng.randint(1, 2)))
            bound.update(e.name for e in chosen)
            project_imports.append(f"from {dep.module} import {', '.join(sorted(e.name for e in chosen))}")
            calls += [call_for(e.kind, e.name, rng) for e in chosen]

    body: list[str] = []
    if not padding:
        commons = ["describe"] + [n for n in ("setup", "config", "run", "evaluate", "train") if rng.random() < 0.55]
        if is_tool or rng.random() < 0.25:
            commons.append("main")
        info.commons = [n for n in commons if n != "main"]
    else:
        commons = []
    # module constants
    consts = [f"{rng.choice(['DEFAULT', 'MAX', 'MIN'])}_{rng.choice(NOUNS).upper()} = {rng.randint(1, 512)}"
              for _ in range(rng.randint(0, 3))]
    consts = list(dict.fromkeys(c for c in consts if c.split(" ")[0] not in bound))
    bound.update(c.split(" ")[0] for c in consts)
    if not padding:
        body += config_class(rng, cfg, info.stem) + [""]
        bound.add(cfg)
    # exported helpers
    n_helpers = rng.randint(1, 3)
    for _ in range(n_helpers):
        name = f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}"
        if name in bound or name in COMMON:
            continue
        bound.add(name)
        kind = rng.choice(["values", "values", "name", "path", "tensor"])
        body += helper_function(rng, name, kind, calls) + [""]
        if not padding:
            info.exports.append(Export(name, kind))
    # classes
    cls_cfg = cfg if not padding else None
    for _ in range(rng.randint(1, 2)):
        cls = f"{camel(rng.choice(ADJ))}{rng.choice(CLASS_NOUNS)}"
        if cls in bound:
            continue
        bound.add(cls)
        if cls_cfg is None:  # padding: the classes need a config of their own
            cls_cfg = f"{camel(info.stem)}Settings"
            body = config_class(rng, cls_cfg, info.stem) + [""] + body
            bound.add(cls_cfg)
        if rng.random() < 0.5:
            body += nn_class(rng, cls, cls_cfg, rng.random() < 0.5) + [""]
        else:
            body += plain_class(rng, cls, cls_cfg, info.stem, calls) + [""]
        if not padding:
            info.classes.append(cls)
    defined = set(commons)
    for name in ("describe", "setup", "config", "run", "evaluate", "train"):
        if name in commons:
            body += common_function(rng, name, cfg, info.stem, defined, calls, info.exports) + [""]
    # more helpers until the module reaches its size
    while len(body) < target - 25:
        name = f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}"
        if name in bound or name in COMMON:
            if len(bound) > 200:
                break
            continue
        bound.add(name)
        if rng.random() < 0.2:
            cls = f"{camel(rng.choice(ADJ))}{rng.choice(CLASS_NOUNS)}{rng.randint(2, 9)}"
            if cls not in bound:
                bound.add(cls)
                if cls_cfg is None:
                    cls_cfg = f"{camel(info.stem)}Settings"
                    body = config_class(rng, cls_cfg, info.stem) + [""] + body
                    bound.add(cls_cfg)
                body += plain_class(rng, cls, cls_cfg, info.stem, calls) + [""]
                continue
        kind = rng.choice(["values", "values", "name", "path", "tensor"])
        body += helper_function(rng, name, kind, calls) + [""]
    if "main" in commons:
        body += main_function(rng, info.stem, cfg, defined, mod_calls, mention) + [""]
        body += ['if __name__ == "__main__":', "    raise SystemExit(main())", ""]
    elif mod_calls and not padding:
        body += ["def report() -> list[str]:", f'    """What the modules {info.stem} builds on say about themselves."""',
                 f"    return [{', '.join(mod_calls[:3])}]", ""]

    # every imported name is used somewhere: the calls no function picked go into a smoke check
    used_text = "\n".join(body)
    unused = []
    for imp in project_imports:
        for name in imp.split(" import ", 1)[1].split(", "):
            name = name.split(" as ")[-1]
            if not re.search(rf"\b{re.escape(name)}\b", used_text):
                unused += [c for c in calls + mod_calls if re.match(rf"{re.escape(name)}\b", c)][:1]
    if unused:
        body += ["def smoke_check() -> list[Any]:",
                 f'    """Call each helper {info.stem.replace("_", " ")} builds on once (tools/validate_config runs this)."""',
                 "    return [", *[f"        {c}," for c in unused], "    ]", ""]
    text_body = "\n".join(body)
    # collapse runs of blank lines to two (PEP 8 between top-level definitions)
    text_body = re.sub(r"\n{4,}", "\n\n\n", text_body)
    if padding:
        return merge_padding(header, text_body, project_imports)
    doc = f'"""{camel(info.stem).replace("_", " ")}: {topic}.\n\n'
    doc += textwrap.fill(rng.choice([
        f"Part of {topic}; the functions here are pure and the classes keep no global state.",
        f"Used by the trainer and the tools; see `{info.module}.describe` for what a configuration means.",
        f"The {info.stem.replace('_', ' ')} helpers, split out of a larger module when it passed a thousand lines.",
        f"Everything {topic} needs for {info.stem.replace('_', ' ')}, configured by `{cfg}`.",
    ]), 100)
    if mention:
        doc += "\n\n" + textwrap.fill(mention, 100)
    doc += '\n"""'
    logger = "logger = logging.getLogger(__name__)" if "logger." in text_body else ""
    if logger:
        text_body_full = "\n".join([logger, "", *consts, "", "", text_body])
    else:
        text_body_full = "\n".join([*consts, "", "", text_body]) if consts else text_body
    imports = import_block(text_body_full, project_imports, rng.random() < 0.3)
    out = doc + "\n\n" + "\n".join(imports) + "\n" + text_body_full.strip("\n") + "\n"
    return re.sub(r"\n{4,}", "\n\n\n", out)


def _bound_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def merge_padding(header: list[str], padding: str, project_imports: list[str]) -> str:
    """The legacy header with ordinary code appended: the padding's imports join the header's import
    block (names the header already imports are not imported again), then the padding's code."""
    legacy = "\n".join(header).rstrip("\n") + "\n"
    tree = ast.parse(legacy)
    bound = _bound_names(tree)
    wanted: list[str] = []
    for line in import_block(padding + "\nlogger" * ("logger." in padding), project_imports, False):
        if not line:
            continue
        if line.startswith("import "):
            if line.split()[1] not in bound:
                wanted.append(line)
        else:  # from X import a, b
            head, _, names = line.partition(" import ")
            keep = [n for n in names.split(", ") if n.split(" as ")[-1] not in bound]
            if keep:
                wanted.append(f"{head} import {', '.join(keep)}")
    if "logger." in padding and "logger" not in bound and "import logging" not in wanted and "logging" not in bound:
        wanted.append("import logging")
    # each import after the header's last import of the same group (stdlib, third party, first party)
    def group(module: str) -> int:
        top = module.split(".")[0]
        return 2 if top in ("metta", "configs", "tools", "tests") else 1 if top in ("torch", "numpy", "pytest") else 0

    placed: list[tuple[int, int]] = []  # (group, end line) of the header's leading imports
    for node in tree.body:
        if isinstance(node, ast.Import):
            placed.append((group(node.names[0].name), node.end_lineno))
        elif isinstance(node, ast.ImportFrom):
            placed.append((group(node.module or ""), node.end_lineno))
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.If, ast.Try)):
            break
    lines = legacy.split("\n")
    inserts: dict[int, list[str]] = {}
    for line in wanted:
        g = group(line.split()[1])
        same = [end for grp, end in placed if grp == g]
        before = [end for grp, end in placed if grp < g]
        if same:
            inserts.setdefault(max(same), []).append(line)
        elif before:
            inserts.setdefault(max(before), []).extend(["", line])
        elif placed:
            inserts.setdefault(min(end for _, end in placed) - 1, []).extend([line, ""])
        else:  # no imports: after the docstring
            first = tree.body[0]
            at = first.end_lineno if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) else 0
            inserts.setdefault(at, []).extend(["", line])
    for at in sorted(inserts, reverse=True):
        new = inserts[at]
        # keep "", x, "", y pairs tidy: one blank line between groups at most
        tidy = [l for i, l in enumerate(new) if l or (i > 0 and new[i - 1])]
        lines[at:at] = tidy
    out = "\n".join(lines).rstrip("\n") + "\n"
    if "logger." in padding and "logger" not in bound:
        out += "\n\nlogger = logging.getLogger(__name__)\n"
    return re.sub(r"\n{4,}", "\n\n\n", out + "\n\n" + padding.strip("\n") + "\n")


def test_module(rng: random.Random, info: ModInfo) -> str:
    names = sorted({info.config_cls, *(e.name for e in info.exports), *info.classes,
                    *(n for n in info.commons if n in ("describe", "evaluate"))})
    lines = [f'"""Tests for {info.module}."""', "", "import math", "", "import pytest", "import torch", "",
             f"from {info.module} import {', '.join(names)}", "", "", "@pytest.fixture",
             f"def config() -> {info.config_cls}:", f'    return {info.config_cls}(name="test_{info.stem}")', "", ""]
    lines += ["def test_config_describe(config):", "    assert config.name in config.describe()", "", ""]
    if "describe" in info.commons:
        lines += ["def test_describe_dict():", '    assert describe({"b": 2, "a": 1}) == "a=1, b=2"', "", ""]
    if "evaluate" in info.commons:
        lines += ["def test_evaluate_empty():", '    assert evaluate([]) == {"mean": 0.0, "pass_rate": 0.0}', "", "",
                  "@pytest.mark.parametrize(\"threshold\", [0.0, 0.5, 1.0])", "def test_evaluate_pass_rate(threshold):",
                  "    result = evaluate([0.1, 0.6, 0.9], threshold=threshold)", "    assert 0.0 <= result[\"pass_rate\"] <= 1.0",
                  "", ""]
    for e in info.exports:
        if e.kind == "values":
            lines += [f"def test_{e.name}_is_finite():", f"    assert math.isfinite({e.name}([1.0, 2.0, 3.0], scale=2.0))", "", ""]
        elif e.kind == "name":
            lines += [f"def test_{e.name}_count():", f'    assert len({e.name}("{rng.choice(NOUNS)}", count=2)) <= 2', "", ""]
        elif e.kind == "path":
            lines += [f"def test_{e.name}_missing_file(tmp_path):",
                      f'    assert isinstance({e.name}(str(tmp_path / "missing.json")), dict)', "", ""]
        else:
            lines += [f"def test_{e.name}_shape():", "    x = torch.randn(3, 4)", f"    assert {e.name}(x).shape[0] in (1, 3)", "", ""]
    for cls in info.classes:
        lines += [f"def test_{cls.lower()}_describe():", f"    obj = {cls}()", "    assert isinstance(obj.describe(), str)", "", ""]
    text = "\n".join(lines).rstrip("\n") + "\n"
    if "torch." not in text.split("import torch", 1)[1]:
        text = text.replace("import pytest\nimport torch\n", "import pytest\n")
    if "math." not in text.split("import math", 1)[1]:
        text = text.replace("import math\n\n", "")
    return text


# -- legacy-touching modules --------------------------------------------------------------------------

DROP = "#DROP#"  # a template line that an f-string variant left out


def fill(template: str, **names: str) -> list[str]:
    """Dedent a template, substitute @name@ placeholders, drop lines that are only DROP."""
    text = textwrap.dedent(template).strip("\n")
    for key, value in names.items():
        text = text.replace("@" + key + "@", value)
    return [line for line in text.split("\n") if line.strip() != DROP]


def singletons(rng: random.Random) -> list[tuple[str, list[str], frozenset[str]]]:
    """(path, legacy header lines, names the padding must not define), in dependency order."""
    out = []
    out.append(("metta/rl/__init__.py", fill('''
        """Reinforcement learning: trainers, losses and the checkpoint manager."""

        from metta.rl.simple_checkpoint_manager import SimpleCheckpointManager

        __all__ = ["SimpleCheckpointManager"]
    '''), frozenset()))
    out.append(("configs/eval_config.py", fill('''
        """Evaluation configuration: which simulations, which checkpoints, and the leaderboard."""

        from dataclasses import dataclass, field
        from typing import Optional

        from metta.agent.policy_store import PolicySelectorConfig


        @dataclass
        class SimConfig:
            name: str
            num_episodes: int = 4
            seed: int = 1000
            npc_policy_uri: Optional[str] = None


        @dataclass
        class EvalConfig:
            policy_uris: list[str] = field(default_factory=list)
            sims: list[SimConfig] = field(default_factory=lambda: [SimConfig("arena")])
            data_dir: str = "./train_dir"
            eval_db_path: str = "eval.sqlite"
            max_workers: int = 2
            # Which checkpoints of each run the leaderboard shows, and ranked by what.
            leaderboard: PolicySelectorConfig = field(default_factory=lambda: PolicySelectorConfig(type="top", n=3, metric="reward"))

            def describe(self) -> str:
                return f"{len(self.policy_uris)} policies on {', '.join(s.name for s in self.sims)}"
    '''), frozenset({"SimConfig", "EvalConfig"})))
    out.append(("metta/sim/simulation.py", fill('''
        """A Simulation runs one policy (a PolicyRecord) for a few episodes of the toy environment."""

        from dataclasses import dataclass
        from typing import Optional, cast

        from configs.eval_config import SimConfig
        from metta.agent.policy_store import PolicyRecord, PolicyStore
        from metta.sim.env import episode_reward


        @dataclass
        class SimulationResults:
            sim_name: str
            episode_rewards: list[float]
            npc_rewards: list[float]


        class Simulation:
            def __init__(self, cfg: SimConfig, policy_pr: PolicyRecord, policy_store: PolicyStore):
                self._cfg = cfg
                self._policy_pr: PolicyRecord = policy_pr
                self._policy_store = policy_store
                # The NPC plays the same episodes, as a reference.
                self._npc_pr: Optional[PolicyRecord] = (
                    cast(PolicyRecord, policy_store.load_from_uri(cfg.npc_policy_uri)) if cfg.npc_policy_uri else None
                )

            @property
            def name(self) -> str:
                return self._cfg.name

            def simulate(self) -> SimulationResults:
                agent = self._policy_pr.policy
                npc = self._npc_pr.policy if self._npc_pr is not None else None
                seeds = [self._cfg.seed + i for i in range(self._cfg.num_episodes)]
                rewards = [episode_reward(agent, seed) for seed in seeds]
                npc_rewards = [episode_reward(npc, seed) for seed in seeds] if npc is not None else []
                return SimulationResults(self._cfg.name, rewards, npc_rewards)

            def run(self) -> float:
                results = self.simulate()
                return sum(results.episode_rewards) / max(len(results.episode_rewards), 1)
    '''), frozenset({"Simulation", "SimulationResults"})))
    out.append(("metta/eval/policy_eval_db.py", fill('''
        """The evaluation database (SQLite). A policy is keyed by its PolicyRecord's (uri, epoch)."""

        import sqlite3
        from typing import Optional

        from metta.agent.policy_record import PolicyRecord

        _SCHEMA = """
        CREATE TABLE IF NOT EXISTS policies (
            policy_key TEXT NOT NULL,
            policy_version INTEGER NOT NULL,
            run_name TEXT NOT NULL,
            PRIMARY KEY (policy_key, policy_version)
        );
        CREATE TABLE IF NOT EXISTS episodes (
            policy_key TEXT NOT NULL,
            policy_version INTEGER NOT NULL,
            sim_name TEXT NOT NULL,
            reward REAL NOT NULL
        );
        """


        class EvalStatsDB:
            def __init__(self, path: str):
                self._con = sqlite3.connect(str(path))
                self._con.executescript(_SCHEMA)

            @staticmethod
            def policy_key(pr: PolicyRecord) -> tuple[str, int]:
                return pr.uri, pr.metadata.epoch

            def record_episode(self, pr: PolicyRecord, sim_name: str, reward: float) -> None:
                key, version = self.policy_key(pr)
                self._con.execute(
                    "INSERT OR IGNORE INTO policies (policy_key, policy_version, run_name) VALUES (?, ?, ?)",
                    (key, version, pr.run_name),
                )
                self._con.execute(
                    "INSERT INTO episodes (policy_key, policy_version, sim_name, reward) VALUES (?, ?, ?, ?)",
                    (key, version, sim_name, reward),
                )
                self._con.commit()

            def average_reward(self, pr: PolicyRecord, sim_name: Optional[str] = None) -> Optional[float]:
                key, version = self.policy_key(pr)
                query = "SELECT AVG(reward) FROM episodes WHERE policy_key = ? AND policy_version = ?"
                params: tuple = (key, version)
                if sim_name is not None:
                    query += " AND sim_name = ?"
                    params += (sim_name,)
                return self._con.execute(query, params).fetchone()[0]

            def epochs(self, run_name: str) -> list[int]:
                rows = self._con.execute(
                    "SELECT DISTINCT policy_version FROM policies WHERE run_name = ? ORDER BY policy_version", (run_name,)
                )
                return [row[0] for row in rows]

            def close(self) -> None:
                self._con.close()
    '''), frozenset({"EvalStatsDB"})))
    out.append(("metta/rl/kickstarter.py", fill('''
        """Kickstarting: while a student trains, pull its action distribution towards its teachers'.

        Teachers are given as URIs (a checkpoint file, a run directory, or `file://...`) and loaded as
        PolicyRecords through the PolicyStore.
        """

        import logging

        import torch
        import torch.nn.functional as F

        from metta.agent.policy_record import PolicyRecord
        from metta.agent.policy_store import PolicyStore

        logger = logging.getLogger(__name__)


        class Kickstarter:
            def __init__(self, teacher_uris: list[str], policy_store: PolicyStore, coef: float = 0.5):
                """Load every teacher that already has a checkpoint; `coef` weighs the distillation loss."""
                from metta.agent.policy_store import PolicyMissingError

                self.coef = coef
                self.teacher_prs: list[PolicyRecord] = []
                for uri in teacher_uris:
                    try:
                        self.teacher_prs.append(policy_store.policy_record(uri))
                    except PolicyMissingError:
                        logger.warning("teacher %s has no checkpoint yet; training without it", uri)
                self.teachers = [pr.policy for pr in self.teacher_prs]
                for teacher in self.teachers:
                    teacher.requires_grad_(False)

            def loss(self, obs: torch.Tensor, student_logits: torch.Tensor) -> torch.Tensor:
                if not self.teachers:
                    return torch.zeros(())
                with torch.no_grad():
                    target = torch.stack([F.softmax(t(obs), dim=-1) for t in self.teachers]).mean(dim=0)
                return self.coef * F.kl_div(F.log_softmax(student_logits, dim=-1), target, reduction="batchmean")

            def describe(self) -> str:
                return ", ".join(f"{pr.run_name}@{pr.metadata.epoch}" for pr in self.teacher_prs) or "no teachers"
    '''), frozenset({"Kickstarter", "logger"})))
    out.append(("tools/sim.py", fill('''
        """Evaluate policies: `python -m tools.sim --policy-uri ./train_dir/my_run --db eval.sqlite`.

        Every checkpoint of every given run is evaluated; the results go to the SQLite evaluation database.
        """

        import argparse
        import json
        import logging
        from typing import Optional

        from configs.eval_config import EvalConfig, SimConfig
        from metta.agent.policy_store import PolicyRecord, PolicyStore
        from metta.eval.policy_eval_db import EvalStatsDB
        from metta.sim.simulation import Simulation


        def print_leaderboard(policy_store: PolicyStore, cfg: EvalConfig) -> None:
            for uri in cfg.policy_uris:
                for pr in policy_store.policy_records(uri, selector_type="top", n=cfg.leaderboard.n, metric="reward"):
                    print(f"  {pr.run_name} epoch {pr.metadata.epoch}: reward {pr.metadata['reward']:.3f}")


        def evaluate(policy_store: PolicyStore, cfg: EvalConfig, db: EvalStatsDB) -> dict[PolicyRecord, float]:
            scores: dict[PolicyRecord, float] = {}
            for uri in cfg.policy_uris:
                for pr in policy_store.policy_records(uri, selector_type="all"):
                    rewards = []
                    for sim_cfg in cfg.sims:
                        result = Simulation(sim_cfg, pr, policy_store=policy_store).simulate()
                        for reward in result.episode_rewards:
                            db.record_episode(pr, sim_cfg.name, reward)
                        rewards += result.episode_rewards
                    scores[pr] = sum(rewards) / max(len(rewards), 1)
            return scores


        def main(argv: Optional[list[str]] = None) -> int:
            parser = argparse.ArgumentParser(description=__doc__)
            parser.add_argument("--policy-uri", action="append", required=True)
            parser.add_argument("--sim", action="append", default=None)
            parser.add_argument("--data-dir", default="./train_dir")
            parser.add_argument("--db", default="eval.sqlite")
            parser.add_argument("--json", action="store_true", help="print one JSON summary row per checkpoint")
            parser.add_argument("--baseline", action="store_true", help="also load the published baseline PolicyRecord (wandb)")
            parser.add_argument("--leaderboard", action="store_true")
            args = parser.parse_args(argv)
            logging.basicConfig(level=logging.INFO)

            cfg = EvalConfig(
                policy_uris=args.policy_uri,
                sims=[SimConfig(name) for name in (args.sim or ["arena"])],
                data_dir=args.data_dir,
                eval_db_path=args.db,
            )
            policy_store = PolicyStore(device="cpu", data_dir=cfg.data_dir)
            db = EvalStatsDB(cfg.eval_db_path)
            try:
                scores: dict[PolicyRecord, float] = evaluate(policy_store, cfg, db)
            finally:
                db.close()

            best = max(scores, key=scores.__getitem__)
            for pr in sorted(scores, key=scores.__getitem__, reverse=True):
                if args.json:
                    print(json.dumps({"run_name": pr.run_name, "epoch": pr.metadata.epoch, "reward": scores[pr]}))
                else:
                    print(f"{'*' if pr == best else ' '} {pr.run_name} {scores[pr]:.3f}")

            if args.baseline:
                baseline_agent = policy_store.policy_record("wandb://run/navigation_baseline:v12").policy
                print(f"baseline: {sum(p.numel() for p in baseline_agent.parameters())} parameters")
            if args.leaderboard:
                print_leaderboard(policy_store, cfg)
            return 0


        # For `python -i -m tools.sim`: build PolicyMetadata by hand in the shell.
        from metta.agent.policy_metadata import PolicyMetadata  # noqa: E402,F401
    '''), frozenset({"main", "evaluate", "print_leaderboard"})))
    out.append(("tools/play.py", fill('''
        """Play a policy in the renderer: `python -m tools.play --policy-uri ./train_dir/my_run`."""

        import argparse
        from typing import Optional

        from metta.agent.policy_store import PolicyStore
        from metta.sim.env import ToyEnv


        def setup(argv: Optional[list[str]]) -> argparse.Namespace:
            parser = argparse.ArgumentParser(description=__doc__)
            parser.add_argument("--policy-uri", default=None, help="checkpoint, run directory or wandb:// URI")
            parser.add_argument("--run", default="play")
            parser.add_argument("--steps", type=int, default=10)
            return parser.parse_args(argv)


        def main(argv: Optional[list[str]] = None) -> int:
            args = setup(argv)
            policy_store = PolicyStore(device="cpu")
            agent = policy_store.policy_record_or_mock(args.policy_uri, run_name=args.run).policy
            env = ToyEnv(batch_size=1, seed=0)
            for step in range(args.steps):
                obs = env.observe()
                print(step, int(agent(obs).argmax(dim=-1)))
            return 0
    '''), frozenset({"main", "setup"})))
    out.append(("tests/conftest.py", fill('''
        """Fixtures shared by every test: a data directory, a PolicyStore, a checkpoint manager, mock records."""

        import os

        import pytest

        from metta.agent.mocks import MockPolicyRecord
        from metta.agent.policy_store import PolicyStore
        from metta.rl import SimpleCheckpointManager
        # from metta.agent.policy_cache import PolicyCache

        RUN_NAME = "test_run"


        @pytest.fixture
        def data_dir(tmp_path) -> str:
            return str(tmp_path / "train_dir")


        @pytest.fixture
        def policy_store(data_dir):
            """A fresh PolicyStore over the test's own data directory."""
            store = PolicyStore(device="cpu", data_dir=data_dir)
            yield store


        @pytest.fixture
        def checkpoint_manager(data_dir):
            manager = SimpleCheckpointManager(run_dir=os.path.join(data_dir, RUN_NAME), run_name=RUN_NAME)
            yield manager


        @pytest.fixture
        def mock_record():
            yield MockPolicyRecord.from_key_and_version("mock_run", 3)


        @pytest.fixture
        def config(data_dir) -> dict:
            return {"data_dir": data_dir, "run_name": RUN_NAME}
    '''), frozenset({"data_dir", "policy_store", "checkpoint_manager", "mock_record", "config", "RUN_NAME"})))
    out.append(("tests/agent/test_policy_cache.py", fill('''
        from metta.agent.policy_cache import PolicyCache
        from metta.agent.policy_metadata import PolicyMetadata
        from metta.agent.policy_record import PolicyRecord


        def _record(name: str) -> PolicyRecord:
            return PolicyRecord(None, name, f"file:///tmp/{name}.pt", PolicyMetadata(epoch=1))


        def test_lru_eviction():
            cache = PolicyCache(max_size=2)
            cache.put("a", _record("a"))
            cache.put("b", _record("b"))
            cache.get("a")
            cache.put("c", _record("c"))
            assert cache.get("b") is None
            assert cache.get("a").run_name == "a"
            assert len(cache) == 2
    '''), frozenset()))
    out.append(("tests/agent/test_policy_store.py", fill('''
        import pytest
        import torch

        from metta.agent.policy_metadata import PolicyMetadata
        from metta.agent.policy_record import PolicyRecord
        from metta.agent.policy_store import PolicyMissingError, PolicyStore


        def test_missing_uri_raises(tmp_path):
            store = PolicyStore(data_dir=str(tmp_path))
            with pytest.raises(PolicyMissingError):
                store.policy_records(str(tmp_path / "nothing"), selector_type="all")


        def test_record_built_by_hand():
            pr = PolicyRecord.__new__(PolicyRecord)
            pr.run_name = "manual"
            pr.uri = "file:///tmp/manual/model_0001.pt"
            pr._metadata = PolicyMetadata(epoch=1)
            pr._cached_policy = torch.nn.Linear(2, 2)
            pr._policy_store = None
            assert pr.file_path == "/tmp/manual/model_0001.pt"
            assert pr.metadata.epoch == 1
    '''), frozenset()))
    out.append(("tests/eval/test_policy_eval_db.py", fill('''
        from metta.agent.mocks import MockPolicyRecord
        from metta.eval.policy_eval_db import EvalStatsDB


        def test_episodes_by_version(tmp_path):
            db = EvalStatsDB(str(tmp_path / "eval.sqlite"))
            v1 = MockPolicyRecord.from_key_and_version("run_a", 1)
            v2 = MockPolicyRecord.from_key_and_version("run_a", 2)
            db.record_episode(v1, "arena", 0.5)
            db.record_episode(v2, "arena", 0.75)
            assert db.epochs("run_a") == [1, 2]
            assert db.average_reward(v2) == 0.75
            db.close()


        def test_mock_fixture(mock_record):
            assert mock_record.run_name == "mock_run"
    '''), frozenset()))
    out.append(("tests/sim/conftest.py", fill('''
        """Records for the simulation tests: trained once per test through the shared PolicyStore."""

        import os

        import pytest
        import torch

        from metta.agent.agent import TinyAgent
        from metta.agent.policy_metadata import PolicyMetadata
        from metta.agent.policy_record import PolicyRecord


        @pytest.fixture
        def saved_record(policy_store, data_dir):
            """A record saved at epoch 2 of run `sim_run`, loaded back through the store."""
            path = os.path.join(data_dir, "sim_run", "checkpoints", "model_0002.pt")
            pr = PolicyRecord(policy_store, "sim_run", f"file://{path}", PolicyMetadata(epoch=2))
            pr.policy = TinyAgent()
            policy_store.save(pr)
            yield policy_store.policy_record(os.path.dirname(path), selector_type="latest")


        @pytest.fixture
        def record_agent(saved_record) -> torch.nn.Module:
            return saved_record.policy
    '''), frozenset({"saved_record", "record_agent"})))
    return out


def full_scenario(rng: random.Random, d: str) -> list[tuple[str, list[str], frozenset[str]]]:
    """Full legacy: report <- evaluation <- trainer <- tool, and a test module (lowest level first)."""
    D = camel(d)
    out = []
    if rng.random() < 0.4:
        describe = fill('''
            def describe(policy) -> str:
                """A short human-readable name for a PolicyRecord (or a plain URI string)."""
                if isinstance(policy, PolicyRecord):
                    return f"{policy.run_name}@{policy.metadata.epoch}"
                return str(policy)
        ''')
    else:
        describe = fill('''
            def describe(pr: PolicyRecord) -> str:
                """`run@epoch` of a record, as the logs and the dashboard show it."""
                return f"{pr.run_name}@{pr.metadata.epoch}"
        ''')
    out.append((f"metta/sim/{d}_report.py", fill('''
        """Presenting @d@ evaluation results: names, tables, summary rows."""

        from typing import Optional

        from metta.agent.policy_metadata import PolicyMetadata
        from metta.agent.policy_record import PolicyRecord
    ''', d=d) + ["", ""] + describe + ["", ""] + fill('''
        def by_epoch(records: list[PolicyRecord]) -> dict[int, PolicyRecord]:
            return {pr.metadata["epoch"]: pr for pr in records}


        def best(scores: dict[PolicyRecord, float]) -> Optional[PolicyRecord]:
            if not scores:
                return None
            return max(scores, key=scores.__getitem__)


        def summary_row(run_name: str, epoch: int, **scores: float) -> dict:
            return PolicyMetadata(run_name=run_name, epoch=epoch, **scores)


        def table(scores: dict[PolicyRecord, float]) -> list[str]:
            return [f"{describe(pr)}: {score:.3f}" for pr, score in sorted(scores.items(), key=lambda kv: -kv[1])]
    '''), frozenset({"describe", "by_epoch", "best", "summary_row", "table"})))

    submit_pool = rng.random() < 0.7
    out.append((f"metta/sim/{d}_evaluation.py", fill(f'''
        """Evaluate every checkpoint of some @d@ runs{' in a thread pool' if submit_pool else ''}.

        Each worker gets the PolicyStore and a URI and loads its own PolicyRecord.
        """

        import logging
        {'from concurrent.futures import ThreadPoolExecutor' if submit_pool else DROP}

        from metta.agent.policy_record import PolicyRecord
        from metta.agent.policy_store import PolicyStore
        # from metta.agent.policy_cache import PolicyCache  # TODO: share loaded records between workers
        from metta.sim.env import episode_reward
        from metta.sim.@d@_report import describe

        logger = logging.getLogger(__name__)


        def _rollout(pr: PolicyRecord, episodes: int, seed: int) -> list[float]:
            agent = pr.policy
            return [episode_reward(agent, seed + i) for i in range(episodes)]


        def score(pr: PolicyRecord, episodes: int = 4, seed: int = 1000) -> float:
            rewards = _rollout(pr, episodes, seed)
            mean = sum(rewards) / len(rewards)
            logger.info("%s: %.3f", describe(pr), mean)
            return mean


        def _evaluate_uri(uri: str, policy_store: PolicyStore, episodes: int) -> float:
            pr = policy_store.policy_record(uri)
            return score(pr, episodes)


        def evaluate_record(pr: PolicyRecord, episodes: int = 4) -> dict[str, float]:
            return {{"epoch": pr.metadata.epoch, "reward": score(pr, episodes)}}


        def evaluate(policy_store: PolicyStore, policy_uris: list[str], episodes: int = 4, max_workers: int = 2) -> dict[PolicyRecord, float]:
            """Mean reward of every checkpoint of every run in `policy_uris`."""
            candidates = [pr for uri in policy_uris for pr in policy_store.policy_records(uri, selector_type="all")]
            latest_by_run = {{pr.run_name: pr for pr in candidates}}
            logger.info("evaluating %d checkpoints of %d runs", len(candidates), len(latest_by_run))
            scores: dict[PolicyRecord, float] = {{}}
    ''', d=d) + indent(fill('''
            with ThreadPoolExecutor(max_workers=max_workers) as pool:
                futures = [pool.submit(_evaluate_uri, pr.uri, policy_store, episodes) for pr in candidates]
                for pr, future in zip(candidates, futures):
                    scores[pr] = future.result()
                    if pr == latest_by_run[pr.run_name]:
                        logger.info(f"{pr} is the latest checkpoint of its run")
            return scores
    ''') if submit_pool else fill('''
            for pr in candidates:
                scores[pr] = _evaluate_uri(pr.uri, policy_store, episodes)
                if pr == latest_by_run[pr.run_name]:
                    logger.info(f"{pr} is the latest checkpoint of its run")
            return scores
    ''')), frozenset({"_rollout", "score", "_evaluate_uri", "evaluate_record", "evaluate", "logger"})))

    inline = rng.random() < 0.5
    teachers = rng.random() < 0.5
    trainer = fill(f'''
        """@D@ training: trains the agent, saves a PolicyRecord every few epochs, resumes from the latest.

        Checkpoints live under `<data_dir>/<run_name>/checkpoints/`; the optimizer state and counters are a
        TrainerCheckpoint in `<data_dir>/<run_name>/`.
        """

        import logging
        import os
        from dataclasses import dataclass, field

        import torch
        import torch.nn.functional as F

        from metta.agent.agent import TinyAgent
        from metta.agent.policy_metadata import PolicyMetadata
        from metta.agent.policy_record import PolicyRecord
        from metta.agent.policy_store import PolicyStore
        {'from metta.rl.kickstarter import Kickstarter' if teachers else DROP}
        from metta.rl.trainer_checkpoint import TrainerCheckpoint
        from metta.sim.env import make_batch

        logger = logging.getLogger(__name__)


        @dataclass
        class @D@TrainerConfig:
            run_name: str
            data_dir: str = "./train_dir"
            total_epochs: int = 4
            checkpoint_interval: int = 2
            steps_per_epoch: int = 8
            batch_size: int = 32
            lr: float = 0.01
            seed: int = {rng.randint(0, 9)}
            teacher_uris: list[str] = field(default_factory=list)

            def describe(self) -> str:
                return f"{{self.run_name}}: {{self.total_epochs}} epochs, checkpoint every {{self.checkpoint_interval}}"


        def _optimizer(agent: torch.nn.Module, cfg: @D@TrainerConfig) -> torch.optim.Optimizer:
            return torch.optim.Adam(agent.parameters(), lr=cfg.lr)


        def _epoch(agent, optimizer, cfg: @D@TrainerConfig, epoch: int, extra_loss=None) -> int:
            steps = 0
            for step in range(cfg.steps_per_epoch):
                obs, actions = make_batch(cfg.seed * 100_003 + epoch * cfg.steps_per_epoch + step, cfg.batch_size)
                logits = agent(obs)
                loss = F.cross_entropy(logits, actions)
                if extra_loss is not None:
                    loss = loss + extra_loss(obs, logits)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                steps += cfg.batch_size
            return steps
    ''', d=d, D=D)
    if inline:
        trainer += [""] + fill(f'''
            def run(cfg: @D@TrainerConfig, policy_store: PolicyStore) -> int:
                """Train until `cfg.total_epochs`, resuming the run if it has a checkpoint; returns the last epoch."""
                run_dir = os.path.join(cfg.data_dir, cfg.run_name)
                checkpoint_dir = os.path.join(run_dir, "checkpoints")
                os.makedirs(checkpoint_dir, exist_ok=True)

                torch.manual_seed(cfg.seed)
                agent = TinyAgent()
                optimizer = _optimizer(agent, cfg)
                epoch = 0
                agent_step = 0

                checkpoint = TrainerCheckpoint.load(run_dir)
                if checkpoint is not None:
                    pr = policy_store.policy_record(checkpoint_dir, selector_type="latest")
                    agent = pr.policy
                    optimizer = _optimizer(agent, cfg)
                    optimizer.load_state_dict(checkpoint.optimizer_state_dict)
                    epoch = checkpoint.epoch
                    agent_step = checkpoint.agent_step
                    logger.info(f"resuming {{cfg.run_name}} from {{pr.uri}} at epoch {{epoch}}")
                {'kickstarter = Kickstarter(cfg.teacher_uris, policy_store) if cfg.teacher_uris else None' if teachers else 'kickstarter = None'}

                while epoch < cfg.total_epochs:
                    agent_step += _epoch(agent, optimizer, cfg, epoch, kickstarter.loss if kickstarter else None)
                    epoch += 1

                    if epoch % cfg.checkpoint_interval == 0:
                        # Save the agent as a PolicyRecord, then the trainer state for the same epoch.
                        pr = PolicyRecord(
                            policy_store,
                            cfg.run_name,
                            f"file://{{checkpoint_dir}}/model_{{epoch:04d}}.pt",
                            PolicyMetadata(epoch=epoch, agent_step=agent_step),
                        )
                        pr.policy = agent
                        policy_store.save(pr)
                        TrainerCheckpoint(
                            agent_step=agent_step,
                            epoch=epoch,
                            optimizer_state_dict=optimizer.state_dict(),
                            policy_path=pr.uri,
                        ).save(run_dir)
                return epoch
        ''', D=D)
    else:
        trainer += [""] + fill(f'''
            def setup(cfg: @D@TrainerConfig) -> tuple[str, str]:
                run_dir = os.path.join(cfg.data_dir, cfg.run_name)
                checkpoint_dir = os.path.join(run_dir, "checkpoints")
                os.makedirs(checkpoint_dir, exist_ok=True)
                return run_dir, checkpoint_dir


            def _resume(cfg: @D@TrainerConfig, policy_store: PolicyStore, run_dir: str, checkpoint_dir: str):
                checkpoint = TrainerCheckpoint.load(run_dir)
                if checkpoint is None:
                    return None, None
                pr = policy_store.policy_record(checkpoint_dir, selector_type="latest")
                logger.info(f"resuming {{cfg.run_name}} from {{pr.uri}} at epoch {{checkpoint.epoch}}")
                return pr, checkpoint


            def _save(cfg: @D@TrainerConfig, policy_store: PolicyStore, agent, optimizer, epoch: int, agent_step: int) -> PolicyRecord:
                run_dir, checkpoint_dir = setup(cfg)
                # Save the agent as a PolicyRecord, then the trainer state for the same epoch.
                pr = PolicyRecord(
                    policy_store,
                    cfg.run_name,
                    f"file://{{checkpoint_dir}}/model_{{epoch:04d}}.pt",
                    PolicyMetadata(epoch=epoch, agent_step=agent_step),
                )
                pr.policy = agent
                policy_store.save(pr)
                TrainerCheckpoint(
                    agent_step=agent_step,
                    epoch=epoch,
                    optimizer_state_dict=optimizer.state_dict(),
                    policy_path=pr.uri,
                ).save(run_dir)
                return pr


            def run(cfg: @D@TrainerConfig, policy_store: PolicyStore) -> int:
                """Train until `cfg.total_epochs`, resuming the run if it has a checkpoint; returns the last epoch."""
                run_dir, checkpoint_dir = setup(cfg)
                torch.manual_seed(cfg.seed)
                agent = TinyAgent()
                optimizer = _optimizer(agent, cfg)
                epoch, agent_step = 0, 0
                pr, checkpoint = _resume(cfg, policy_store, run_dir, checkpoint_dir)
                if pr is not None:
                    agent = pr.policy
                    optimizer = _optimizer(agent, cfg)
                    optimizer.load_state_dict(checkpoint.optimizer_state_dict)
                    epoch, agent_step = checkpoint.epoch, checkpoint.agent_step
                {'kickstarter = Kickstarter(cfg.teacher_uris, policy_store) if cfg.teacher_uris else None' if teachers else 'kickstarter = None'}
                while epoch < cfg.total_epochs:
                    agent_step += _epoch(agent, optimizer, cfg, epoch, kickstarter.loss if kickstarter else None)
                    epoch += 1
                    if epoch % cfg.checkpoint_interval == 0:
                        _save(cfg, policy_store, agent, optimizer, epoch, agent_step)
                return epoch
        ''', D=D)
    trainer += [""] + fill('''
        def train(cfg: @D@TrainerConfig, policy_store: PolicyStore) -> PolicyRecord:
            """Train until `cfg.total_epochs`; return the latest PolicyRecord."""
            run(cfg, policy_store)
            return policy_store.policy_record(os.path.join(cfg.data_dir, cfg.run_name, "checkpoints"), selector_type="latest")
    ''', D=D)
    out.append((f"metta/rl/{d}_trainer.py", trainer,
                frozenset({f"{D}TrainerConfig", "_optimizer", "_epoch", "setup", "_resume", "_save", "run", "train", "logger"})))

    create = rng.random() < 0.6
    store_line = (f'policy_store = PolicyStore.create(device=args.device, data_dir=args.data_dir, wandb_config={{"project": "{d}"}})'
                  if create else "policy_store = PolicyStore(device=args.device, data_dir=args.data_dir)")
    out.append((f"tools/{d}_train.py", fill(f'''
        """Train a @d@ policy: `python -m tools.@d@_train --run my_run [--data-dir ./train_dir]`.

        The PolicyStore is created here and handed to the trainer, which saves a PolicyRecord every
        `--checkpoint-interval` epochs and resumes from the latest one.
        """

        import argparse
        import logging
        from typing import Optional

        from metta.agent.policy_record import PolicyRecord
        from metta.agent.policy_store import PolicyStore
        from metta.rl.@d@_trainer import @D@TrainerConfig, train
        from metta.sim.@d@_evaluation import evaluate_record
        from metta.sim.@d@_report import describe


        def config(argv: Optional[list[str]] = None) -> argparse.Namespace:
            parser = argparse.ArgumentParser(description=__doc__)
            parser.add_argument("--run", required=True)
            parser.add_argument("--data-dir", default="./train_dir")
            parser.add_argument("--device", default="cpu")
            parser.add_argument("--epochs", type=int, default=4)
            parser.add_argument("--checkpoint-interval", type=int, default=2)
            parser.add_argument("--episodes", type=int, default=4)
            parser.add_argument("--teacher", action="append", default=[], help="URI of a teacher policy (repeatable)")
            return parser.parse_args(argv)


        def main(argv: Optional[list[str]] = None) -> int:
            args = config(argv)
            logging.basicConfig(level=logging.INFO)
            cfg = @D@TrainerConfig(
                run_name=args.run,
                data_dir=args.data_dir,
                total_epochs=args.epochs,
                checkpoint_interval=args.checkpoint_interval,
                teacher_uris=args.teacher,
            )
            # One store for the whole process; the trainer saves and loads through it.
            {store_line}
            pr: PolicyRecord = train(cfg, policy_store)
            print(f"{{pr.run_name}}: saved {{pr.file_path}} at epoch {{pr.metadata.epoch}}")
            result = evaluate_record(pr, episodes=args.episodes)
            print(describe(pr), result)
            return 0


        if __name__ == "__main__":
            raise SystemExit(main())
    ''', d=d, D=D), frozenset({"config", "main"})))

    out.append((f"tests/rl/test_{d}_trainer.py", fill('''
        """Train -> save -> resume -> evaluate, for the @d@ trainer (through the shared PolicyStore fixture)."""

        import os
        from unittest.mock import MagicMock

        import pytest

        from metta.agent.mocks import MockPolicyRecord
        from metta.agent.policy_record import PolicyRecord
        from metta.rl.@d@_trainer import @D@TrainerConfig, train
        from metta.sim.@d@_evaluation import evaluate, evaluate_record
        from metta.sim.@d@_report import by_epoch, describe


        @pytest.fixture
        def trained(policy_store, data_dir):
            train(@D@TrainerConfig(run_name="run_a", data_dir=data_dir, total_epochs=4), policy_store)
            records = policy_store.policy_records(os.path.join(data_dir, "run_a"), selector_type="all")
            yield records


        @pytest.fixture
        def trainer_config(data_dir) -> @D@TrainerConfig:
            return @D@TrainerConfig(run_name="run_b", data_dir=data_dir, total_epochs=2)


        def test_train_returns_the_latest_record(policy_store, trainer_config):
            pr: PolicyRecord = train(trainer_config, policy_store)
            assert pr.metadata.epoch == trainer_config.total_epochs
            assert describe(pr).startswith("run_b")


        def test_resume_continues_the_run(policy_store, trainer_config):
            train(trainer_config, policy_store)
            trainer_config.total_epochs = 4
            pr = train(trainer_config, policy_store)
            assert pr.metadata.epoch == 4


        def test_records_by_epoch(trained):
            assert sorted(by_epoch(trained)) == [2, 4]
            assert by_epoch(trained)[4] == trained[-1]


        def test_evaluate_record(trained):
            result = evaluate_record(trained[-1], episodes=1)
            assert result["epoch"] == 4
            assert 0.0 <= result["reward"] <= 1.0


        def test_evaluate_every_checkpoint(policy_store, data_dir, trained):
            scores = evaluate(policy_store, [os.path.join(data_dir, "run_a")], episodes=1)
            assert len(scores) == len(trained)


        def test_evaluate_with_a_mock_store(trained):
            store = MagicMock()
            store.policy_records.return_value = trained
            store.policy_record.side_effect = lambda uri: trained[-1]
            assert len(evaluate(store, ["anything"], episodes=1, max_workers=1)) == len(trained)


        def test_describe_mock_record(mock_record):
            assert describe(mock_record).startswith("mock_run")
            assert describe(MockPolicyRecord.from_key_and_version("run_c", 7)) == "run_c@7"
    ''', d=d, D=D), frozenset({"trained", "trainer_config"})))
    return out


def half_scenario(rng: random.Random, d: str) -> list[tuple[str, list[str], frozenset[str]]]:
    """Half migrated: leaderboard <- evaluator, loop (manager), checkpoint report, tool, test."""
    D = camel(d)
    out = []
    out.append((f"metta/sim/{d}_leaderboard.py", fill('''
        """The @d@ leaderboard: one line per run, best reward first."""

        from metta.sim.policy_wrapper import PolicyRecord


        def describe_record(pr: PolicyRecord) -> str:
            """`run@epoch (uri)` of a loaded policy."""
            return f"{pr.run_name}@{pr.metadata.epoch} ({pr.uri})"


        def leaderboard(results: dict) -> list[str]:
            ranked = sorted(results.items(), key=lambda item: item[1].reward, reverse=True)
            return [f"{i + 1}. {run}: {r.reward:.3f} (epoch {r.epoch})" for i, (run, r) in enumerate(ranked)]
    ''', d=d), frozenset({"describe_record", "leaderboard"})))

    try_cache = rng.random() < 0.6
    out.append((f"metta/sim/{d}_evaluator.py", fill('''
        """Evaluate @d@ policies from the SimplePolicyStore on the toy environment."""

        import logging
        from dataclasses import dataclass
        from typing import TYPE_CHECKING, Optional

        import torch

        from metta.sim.env import ToyEnv
        from metta.sim.@d@_leaderboard import describe_record
        from metta.sim.policy_wrapper import PolicyWrapper
        from metta.sim.simple_policy_store import SimplePolicyStore

        if TYPE_CHECKING:
            from metta.agent.policy_record import PolicyRecord  # noqa: F401
            from metta.agent.policy_store import PolicyStore  # noqa: F401
    ''', d=d) + ([""] + fill('''
        try:
            from metta.agent.policy_cache import PolicyCache
        except ImportError:  # the LRU policy cache went away with PolicyStore
            PolicyCache = None
    ''') if try_cache else []) + [""] + fill('''
        logger = logging.getLogger(__name__)


        @dataclass(frozen=True)
        class EvalResult:
            run_name: str
            epoch: int
            uri: str
            reward: float


        def run_episodes(agent: torch.nn.Module, episodes: int = 4, seed: int = 123) -> float:
            env = ToyEnv(batch_size=128, seed=seed)
            rewards = []
            with torch.no_grad():
                for _ in range(episodes):
                    obs = env.observe()
                    rewards.append(env.reward(obs, agent.act(obs)))
            return sum(rewards) / len(rewards)


        def evaluate_record(pr: PolicyWrapper, episodes: int = 4) -> EvalResult:
            agent = pr.policy
            reward = run_episodes(agent, episodes=episodes)
            logger.info(f"evaluated {describe_record(pr)}: reward {reward:.3f}")
            return EvalResult(run_name=pr.run_name, epoch=pr.metadata.epoch, uri=pr.uri, reward=reward)


        def evaluate_policy(policy_store: SimplePolicyStore, policy_uri: str, episodes: int = 4) -> EvalResult:
            """Evaluate the policy at policy_uri (a checkpoint file, a run dir, or a file:// URI of either)."""
            pr = policy_store.policy_record(policy_uri)
            return evaluate_record(pr, episodes=episodes)


        def pick_record(records: list[PolicyWrapper], run_name: str) -> Optional[PolicyWrapper]:
            for pr in records:
                if pr.run_name == run_name:
                    return pr
            return None


        def evaluate_many(policy_store: SimplePolicyStore, policy_uris: list[str], episodes: int = 4) -> dict[str, EvalResult]:
            """Evaluate the latest policy of every run named in policy_uris, keyed by run name."""
            records: list[PolicyWrapper] = [policy_store.policy_record(uri) for uri in policy_uris]
            by_run = {pr.run_name: pr for pr in records}
            return {run_name: evaluate_record(pr, episodes=episodes) for run_name, pr in by_run.items()}


        from metta.sim.policy_wrapper import PolicyRecord  # noqa: E402,F401  (handy in an interactive shell)
    '''), frozenset({"EvalResult", "run_episodes", "evaluate_record", "evaluate_policy", "pick_record",
                     "evaluate_many", "logger", "PolicyCache"})))

    positional = rng.random() < 0.5
    ctor = ("SimpleCheckpointManager(os.path.join(root, run_name), run_name)" if positional else
            "SimpleCheckpointManager(run_dir=os.path.join(root, run_name), run_name=run_name)")
    out.append((f"metta/rl/{d}_loop.py", fill(f'''
        """@D@ training loop. Checkpoints go through SimpleCheckpointManager (PolicyStore is gone)."""

        import logging
        import os
        from dataclasses import dataclass
        from typing import TYPE_CHECKING, Optional

        import torch
        from torch import nn

        from metta.agent.agent import MettaAgent, make_agent
        from metta.rl.simple_checkpoint_manager import SimpleCheckpointManager
        from metta.sim.env import ToyEnv
        # from metta.agent.policy_store import PolicyStore
        # from metta.rl.trainer_checkpoint import TrainerCheckpoint

        if TYPE_CHECKING:
            from metta.agent.policy_record import PolicyRecord

        logger = logging.getLogger(__name__)


        @dataclass
        class @D@LoopConfig:
            run_name: str
            data_dir: str = "./train_dir"
            total_epochs: int = 6
            checkpoint_interval: int = 2
            lr: float = 0.05
            batch_size: int = 64
            seed: int = {rng.randint(0, 9)}


        class @D@Trainer:
            def __init__(self, cfg: @D@LoopConfig, checkpoint_manager: SimpleCheckpointManager):
                self.cfg = cfg
                self.checkpoint_manager = checkpoint_manager
                self.agent: MettaAgent = make_agent(cfg.seed)
                self.optimizer = torch.optim.Adam(self.agent.parameters(), lr=cfg.lr)
                self.epoch = 0
                self.agent_step = 0
                self.last_loss: Optional[float] = None
                self.setup()

            def setup(self) -> None:
                agent = self.checkpoint_manager.load_agent()
                if agent is None:
                    logger.info("no checkpoint for %s, starting fresh", self.checkpoint_manager.run_name)
                    return
                self.agent = agent
                self.optimizer = torch.optim.Adam(self.agent.parameters(), lr=self.cfg.lr)
                trainer_state = self.checkpoint_manager.load_trainer_state()
                if trainer_state is not None:
                    self.optimizer.load_state_dict(trainer_state["optimizer_state"])
                    self.epoch = trainer_state["epoch"]
                    self.agent_step = trainer_state["agent_step"]
                logger.info("resumed %s at epoch %d (agent_step %d)", self.checkpoint_manager.run_name, self.epoch, self.agent_step)

            def _train_epoch(self) -> float:
                env = ToyEnv(batch_size=self.cfg.batch_size, seed=self.cfg.seed * 100_000 + self.epoch)
                obs = env.observe()
                loss = nn.functional.cross_entropy(self.agent(obs), env.best_actions(obs))
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                self.agent_step += obs.shape[0]
                return loss.item()

            def train(self) -> int:
                """Train until cfg.total_epochs; returns the number of epochs run in this call."""
                epochs_run = 0
                while self.epoch < self.cfg.total_epochs:
                    self.epoch += 1
                    self.last_loss = self._train_epoch()
                    epochs_run += 1
                    if self.epoch % self.cfg.checkpoint_interval == 0:
                        self.save_checkpoint()
                return epochs_run

            def save_checkpoint(self) -> None:
                path = self.checkpoint_manager.save_agent(
                    self.agent, self.epoch, {{"score": -self.last_loss, "agent_step": self.agent_step}}
                )
                self.checkpoint_manager.save_trainer_state(self.optimizer, self.epoch, self.agent_step)
                logger.info("epoch %d: saved %s (loss %.4f)", self.epoch, path, self.last_loss)

            def describe(self) -> str:
                return f"{{self.checkpoint_manager.run_name}} at epoch {{self.epoch}}"


        def make_trainer(run_name: str, root: str = "./train_dir", **overrides) -> @D@Trainer:
            cfg = @D@LoopConfig(run_name=run_name, data_dir=root, **overrides)
            checkpoint_manager = {ctor}
            return @D@Trainer(cfg, checkpoint_manager)


        def load_policy_from_store(policy_uri: str):
            """Old entry point, kept for notebooks; nothing in the repo calls it any more."""
            from metta.agent.policy_store import PolicyStore

            logger.warning("load_policy_from_store is deprecated; use the checkpoint manager")
            raise NotImplementedError(f"PolicyStore is gone; cannot load {{policy_uri}}")
    ''', d=d, D=D), frozenset({f"{D}LoopConfig", f"{D}Trainer", "make_trainer", "load_policy_from_store", "logger"})))

    out.append((f"metta/rl/{d}_checkpoint_report.py", fill('''
        """Summaries of a @d@ run's checkpoints for the dashboard and the end-of-training report."""

        import json
        import logging
        import os
        from typing import Optional

        from metta.rl.simple_checkpoint_manager import SimpleCheckpointManager

        logger = logging.getLogger(__name__)


        def open_run(run_name: str) -> SimpleCheckpointManager:
            """The checkpoint manager of a run under the default ./train_dir."""
            return SimpleCheckpointManager(run_dir=f"./train_dir/{run_name}", run_name=run_name)


        def write_run_summary(checkpoint_manager: SimpleCheckpointManager, extra: Optional[dict] = None) -> str:
            """Write <run_dir>/summary.json and return its path."""
            summary = {
                "run_name": checkpoint_manager.run_name,
                "checkpoint_dir": os.path.abspath(checkpoint_manager.checkpoint_dir),
                **(extra or {}),
            }
            path = os.path.join(checkpoint_manager.run_dir, "summary.json")
            with open(path, "w") as f:
                json.dump(summary, f, sort_keys=True)
            return path


        def best_checkpoint(checkpoint_manager: SimpleCheckpointManager) -> Optional[str]:
            """Path of the checkpoint with the best score (from the metadata sidecars)."""
            best = checkpoint_manager.find_best_checkpoint("score")
            if best is None:
                logger.warning("no scored checkpoint in %s", checkpoint_manager.checkpoint_dir)
            return best


        def describe(checkpoint_manager: SimpleCheckpointManager) -> str:
            return f"{checkpoint_manager.run_name}: {checkpoint_manager.get_checkpoint_count()} checkpoints"
    ''', d=d), frozenset({"open_run", "write_run_summary", "best_checkpoint", "describe", "logger"})))

    out.append((f"tools/{d}_eval.py", fill('''
        """Train then evaluate @d@ policies: python -m tools.@d@_eval --run my_run file://./train_dir/run_a"""

        import argparse
        import json
        import os
        from typing import Optional

        from metta.rl.@d@_checkpoint_report import write_run_summary
        from metta.rl.@d@_loop import make_trainer
        from metta.sim.@d@_evaluator import evaluate_many
        from metta.sim.@d@_leaderboard import leaderboard
        from metta.sim.simple_policy_store import SimplePolicyStore
        # from metta.agent.policy_store import PolicyStore, PolicySelectorType


        def main(argv: Optional[list[str]] = None) -> int:
            parser = argparse.ArgumentParser(description=__doc__)
            parser.add_argument("policy_uris", nargs="*")
            parser.add_argument("--run", default=None)
            parser.add_argument("--root", default="./train_dir")
            parser.add_argument("--episodes", type=int, default=4)
            parser.add_argument("--device", default="cpu")
            args = parser.parse_args(argv)

            uris = list(args.policy_uris)
            if args.run:
                trainer = make_trainer(args.run, root=args.root)
                trainer.train()
                write_run_summary(trainer.checkpoint_manager, {"epochs": trainer.epoch})
                uris.append(f"file://{os.path.join(args.root, args.run)}")
            policy_store = SimplePolicyStore.create(device=args.device, wandb_run=None)
            results = evaluate_many(policy_store, uris, episodes=args.episodes)
            for line in leaderboard(results):
                print(line)
            print(json.dumps({run: {"epoch": r.epoch, "reward": r.reward} for run, r in results.items()}, sort_keys=True))
            return 0


        if __name__ == "__main__":
            raise SystemExit(main())
    ''', d=d), frozenset({"main"})))

    out.append((f"tests/sim/test_{d}_evaluator.py", fill('''
        """The @d@ evaluator on checkpoints written by the @d@ trainer."""

        import os

        import pytest

        from metta.agent.agent import make_agent
        from metta.rl.@d@_loop import @D@LoopConfig, @D@Trainer
        from metta.rl.simple_checkpoint_manager import SimpleCheckpointManager
        from metta.sim.@d@_evaluator import evaluate_policy, pick_record
        from metta.sim.@d@_leaderboard import describe_record
        from metta.sim.simple_policy_store import SimplePolicyStore

        RUN_NAME = "@d@_run"


        @pytest.fixture
        def trained_manager(data_dir):
            manager = SimpleCheckpointManager(run_dir=os.path.join(data_dir, RUN_NAME), run_name=RUN_NAME)
            @D@Trainer(@D@LoopConfig(run_name=RUN_NAME, data_dir=data_dir, total_epochs=4), manager).train()
            yield manager


        def test_evaluate_latest_checkpoint_of_a_run(trained_manager, data_dir):
            store = SimplePolicyStore()
            result = evaluate_policy(store, os.path.join(data_dir, trained_manager.run_name))
            assert (result.run_name, result.epoch) == (RUN_NAME, 4)
            assert os.path.isfile(result.uri)


        def test_evaluate_through_a_file_uri(trained_manager):
            result = evaluate_policy(policy_store=SimplePolicyStore(device="cpu"), policy_uri=f"file://{trained_manager.checkpoint_dir}")
            assert (result.run_name, result.epoch) == (RUN_NAME, 4)


        def test_evaluate_a_hand_saved_checkpoint_file(checkpoint_manager):
            path = checkpoint_manager.save_agent(make_agent(seed=3), 7, {"score": 0.25, "note": "hand-made"})
            result = evaluate_policy(SimplePolicyStore(), path)
            assert result.epoch == 7


        def test_records_by_run_name(trained_manager):
            store = SimplePolicyStore()
            records = [store.policy_record(f"file://{trained_manager.checkpoint_dir}")]
            pr = pick_record(records, RUN_NAME)
            assert pr is not None
            assert describe_record(pr).startswith(f"{RUN_NAME}@4 (")
            assert pick_record(records, "other_run") is None
    ''', d=d, D=D), frozenset({"trained_manager", "RUN_NAME"})))
    return out


# -- the project --------------------------------------------------------------------------------------

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "metta-training"
version = "0.7.0"
description = "Reinforcement-learning training: agents, trainers, simulations and tools (generated benchmark project)"
requires-python = ">=3.10"
dependencies = ["torch", "numpy", "pydantic"]

[project.optional-dependencies]
test = ["pytest>=8"]

[tool.setuptools.packages.find]
include = ["metta*", "configs*", "tools*"]

[tool.pytest.ini_options]
testpaths = ["tests"]

[tool.ruff]
line-length = 120
'''

README = '''\
# metta-training

Train agents on the grid environment, evaluate them, and browse the results.

    python -m tools.navigation_train --run my_run
    python -m tools.sim --policy-uri ./train_dir/my_run --db eval.sqlite

Agents are saved as PolicyRecords through the `PolicyStore` (`metta/agent/policy_store.py`);
newer trainers use `SimpleCheckpointManager` and `SimplePolicyStore`. Both write under
`./train_dir/<run>/checkpoints/`.

(Generated by tinyckpt's benchmarks/make_training_repo.py.)
'''

MENTIONS = [
    "Checkpoints used to be loaded with PolicyStore.policy_record(); this module only sees plain paths.",
    "The returned dict mirrors the fields of the old PolicyMetadata (epoch, agent_step, generation).",
    "Runs written by SimpleCheckpointManager keep a model_NNNN.yaml sidecar next to each checkpoint.",
    "Formerly a PolicyRecord was passed in here; callers now hand over the checkpoint path.",
    "Do not import PolicyWrapper here: the simulation side must not depend on the policy store.",
    "The trainer state is the dict TrainerCheckpoint used to pickle (optimizer, epoch, agent_step).",
]

NEAR_MISS = {
    "metta/common/checkpoint_index.py": '''\
"""An index of checkpoints on disk (the new world: no policy store involved).

`PolicyMetadata` and `CheckpointManager` here are this project's own, unrelated to the legacy classes
of the same names.
"""

import os
import re
from typing import Optional, TypedDict

_EPOCH = re.compile(r"agent_epoch_(\\d+)\\.pt$")


class PolicyMetadata(TypedDict, total=False):
    run_name: str
    epoch: int
    path: str


class CheckpointManager:
    """Lists checkpoints of the tinyckpt layout: <base_dir>/<run>/checkpoints/agent_epoch_<N>.pt."""

    def __init__(self, run_name: str, base_dir: str = "./train_dir"):
        self.run_name = run_name
        self.base_dir = base_dir

    @property
    def checkpoint_dir(self) -> str:
        return os.path.join(self.base_dir, self.run_name, "checkpoints")

    def entries(self) -> list[PolicyMetadata]:
        if not os.path.isdir(self.checkpoint_dir):
            return []
        found: list[PolicyMetadata] = []
        for name in sorted(os.listdir(self.checkpoint_dir)):
            match = _EPOCH.search(name)
            if match:
                found.append(PolicyMetadata(run_name=self.run_name, epoch=int(match.group(1)),
                                            path=os.path.join(self.checkpoint_dir, name)))
        return sorted(found, key=lambda e: e["epoch"])

    def latest(self) -> Optional[PolicyMetadata]:
        entries = self.entries()
        return entries[-1] if entries else None

    def describe(self) -> str:
        latest = self.latest()
        return f"{self.run_name}: {len(self.entries())} checkpoints, latest epoch {latest['epoch'] if latest else None}"


def run(run_name: str, base_dir: str = "./train_dir") -> Optional[str]:
    latest = CheckpointManager(run_name, base_dir).latest()
    return latest["path"] if latest else None
''',
    "metta/common/stats_client.py": '''\
"""A client for the stats server (scores of evaluated policies)."""

import json
import os
import urllib.request
from typing import Any, Optional


class PolicyStoreClient:
    """Talks to the stats server's policy endpoints; not the legacy PolicyStore."""

    def __init__(self, base_url: str = "http://localhost:8000", timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.base_url}/{path.lstrip('/')}", timeout=self.timeout) as response:
            return json.loads(response.read())

    def policy_record(self, uri: str) -> dict[str, Any]:
        return self._get(f"policies?uri={uri}")

    def policy_records(self, run_name: str, selector_type: str = "all") -> list[dict[str, Any]]:
        return self._get(f"runs/{run_name}/policies?selector={selector_type}")

    def scores(self, uris: list[str], metric: str = "score", eval_name: Optional[str] = None) -> dict[str, float]:
        query = {"uris": uris, "metric": metric, "eval": eval_name}
        return self._get("scores?q=" + json.dumps(query))

    def describe(self) -> str:
        return f"stats server at {self.base_url}"


def config() -> dict[str, Any]:
    return {"base_url": os.environ.get("STATS_SERVER_URL", "http://localhost:8000")}
''',
}


@dataclass
class Project:
    files: dict[str, str] = field(default_factory=dict)
    legacy_users: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)


def module_of(path: str) -> str:
    mod = path[:-3].replace("/", ".")
    return mod.removesuffix(".__init__")


def target_lines(rng: random.Random) -> int:
    return int(min(330, max(55, rng.lognormvariate(math.log(130), 0.55))))


def generate(n_files: int, n_legacy: int, seed: int) -> Project:
    rng = random.Random(seed)
    project = Project()
    files = project.files
    files["pyproject.toml"] = PYPROJECT
    files["README.md"] = README
    for rel, src in LEGACY_COPIES.items():
        files[rel] = (FIXTURES / src).read_text(encoding="utf-8")
    files["metta/agent/agent.py"] = AGENT_PY
    files["metta/sim/env.py"] = ENV_PY
    files.update(NEAR_MISS)

    # legacy users: singletons first, then alternating full / half scenarios
    planned = singletons(rng)
    domains = DOMAINS[:]
    rng.shuffle(domains)
    k = 0
    while len(planned) < n_legacy:
        d = domains[k % len(domains)] + ("" if k < len(domains) else f"_{k // len(domains) + 1}")
        planned += full_scenario(rng, d) if k % 2 == 0 else half_scenario(rng, d)
        k += 1
    planned = planned[:n_legacy]

    # package directories: every directory holding a module gets an __init__.py
    def ensure_inits(rel: str) -> None:
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            init = "/".join(parts[:i]) + "/__init__.py"
            if init not in files:
                pkg = "/".join(parts[:i])
                files[init] = (f'"""{pkg.replace("/", ".")}: {PACKAGES[pkg][3]}."""\n'
                               if pkg in PACKAGES else "")

    for rel in list(files):
        if rel.endswith(".py"):
            ensure_inits(rel)
    for rel, _, _ in planned:
        ensure_inits(rel)
    for pkg in PACKAGES:
        ensure_inits(pkg + "/x.py")
    for sub in ("tests/agent", "tests/rl", "tests/sim", "tests/eval", "tests/common", "tests/mettagrid",
                "tests/map", "tests/tools", "tests/configs"):
        ensure_inits(sub + "/x.py")
    files["tests/__init__.py"] = ""

    py_now = sum(1 for f in files if f.endswith(".py")) + sum(1 for rel, _, _ in planned if rel not in files)
    budget = max(n_files - py_now, 0)
    n_tests = int(budget * 0.22)
    n_modules = budget - n_tests

    # ordinary modules, distributed over the packages by weight
    weights = {pkg: w for pkg, (w, _, _, _) in PACKAGES.items()}
    total_w = sum(weights.values())
    counts = {pkg: int(n_modules * w / total_w) for pkg, w in weights.items()}
    leftover = n_modules - sum(counts.values())
    for pkg in sorted(PACKAGES, key=lambda p: -weights[p])[:leftover]:
        counts[pkg] += 1
    taken = {rel for rel in files} | {rel for rel, _, _ in planned}
    order: list[tuple[str, str]] = []  # (pkg, stem)
    for pkg, count in counts.items():
        _, nouns, quals, _ = PACKAGES[pkg]
        stems = [f"{q}_{n}" if q else n for q in quals for n in nouns]
        rng.shuffle(stems)
        extra = 2
        picked: list[str] = []
        for stem in stems:
            if len(picked) == count:
                break
            if f"{pkg}/{stem}.py" not in taken:
                picked.append(stem)
        while len(picked) < count:  # vocabulary exhausted: numbered variants, as real repos grow them
            stem = f"{rng.choice(nouns)}_v{extra}"
            extra += 1
            if f"{pkg}/{stem}.py" not in taken and stem not in picked:
                picked.append(stem)
        order += [(pkg, s) for s in picked]
        taken |= {f"{pkg}/{s}.py" for s in picked}
    # dependency order: shared code first, tools last
    rank = {p: i for i, p in enumerate(["metta/common/util", "metta/common/wandb", "metta/common/profiling",
                                         "configs", "configs/trainer", "configs/env", "configs/sim",
                                         "metta/agent/util", "metta/agent/components", "metta/agent",
                                         "metta/mettagrid", "metta/mettagrid/room", "metta/map", "metta/map/scenes",
                                         "metta/rl/util", "metta/rl", "metta/sim/maps", "metta/sim", "metta/eval",
                                         "tools"])}
    order.sort(key=lambda ps: rank[ps[0]])
    mention_at = set(rng.sample(range(len(order)), min(len(MENTIONS), len(order))))
    infos: list[ModInfo] = []
    for i, (pkg, stem) in enumerate(order):
        rel = f"{pkg}/{stem}.py"
        info = ModInfo(module_of(rel), rel, stem, f"{camel(stem)}Config")
        same = [m for m in infos if m.module.rsplit(".", 1)[0] == pkg.replace("/", ".")]
        other = [m for m in infos if m not in same]
        deps = rng.sample(same, min(len(same), rng.randint(0, 2))) + rng.sample(other, min(len(other), rng.randint(1, 3)))
        mention = None
        if i in mention_at:
            mention = MENTIONS[len(project.mentions) % len(MENTIONS)]
            project.mentions.append(rel)
        files[rel] = ordinary_module(rng, info, PACKAGES[pkg][3], deps, target_lines(rng), is_tool=pkg == "tools",
                                     mention=mention)
        infos.append(info)

    # legacy users, padded with ordinary code to a realistic size
    for rel, header, reserved in planned:
        if rel.endswith("__init__.py") or "/conftest.py" in rel or rel.startswith("tests/"):
            files[rel] = "\n".join(header).rstrip("\n") + "\n"
        else:
            stem = rel.rsplit("/", 1)[1][:-3]
            info = ModInfo(module_of(rel), rel, stem, f"{camel(stem)}Settings")
            deps = rng.sample(infos, min(len(infos), rng.randint(1, 3)))
            pad = max(target_lines(rng) - len(header), 40)
            files[rel] = ordinary_module(rng, info, "", deps, pad, is_tool=False,
                                         reserved=reserved | set(COMMON), header=header)
        project.legacy_users.append(rel)

    # tests of ordinary modules
    testable = [m for m in infos if not m.path.startswith("tools/")]
    for info in rng.sample(testable, min(n_tests, len(testable))):
        top = info.path.split("/")[1] if info.path.startswith("metta/") else info.path.split("/")[0]
        sub = {"common": "common", "mettagrid": "mettagrid", "map": "map", "agent": "agent", "rl": "rl",
               "sim": "sim", "eval": "eval", "configs": "configs"}.get(top, "common")
        rel = f"tests/{sub}/test_{info.stem}.py"
        n = 2
        while rel in files:
            rel = f"tests/{sub}/test_{info.stem}_{n}.py"
            n += 1
        files[rel] = test_module(rng, info)
    return project


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, metavar="OUT_DIR")
    parser.add_argument("--files", type=int, default=600, help="Python files in the project (default 600)")
    parser.add_argument("--legacy", type=int, default=35,
                        help="files that use the legacy API, besides the legacy modules themselves (default 35)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out} exists and is not empty")
    project = generate(args.files, args.legacy, args.seed)
    bad = []
    for rel, text in project.files.items():
        if rel.endswith(".py"):
            try:
                ast.parse(text, filename=rel)
            except SyntaxError as exc:
                bad.append(f"{rel}:{exc.lineno}: {exc.msg}")
    if bad:
        print("generated files that do not parse (a bug in the generator):", *bad, sep="\n  ", file=sys.stderr)
        return 1
    for rel, text in sorted(project.files.items()):
        path = args.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    py = {rel: text for rel, text in project.files.items() if rel.endswith(".py")}
    lines = sorted(text.count("\n") for rel, text in py.items() if not rel.endswith("__init__.py"))
    by_top: dict[str, int] = {}
    for rel in py:
        top = "/".join(rel.split("/")[:2]) if rel.startswith("metta/") else rel.split("/")[0]
        by_top[top] = by_top.get(top, 0) + 1
    print(f"wrote {len(py)} Python files ({sum(t.count(chr(10)) for t in py.values()):,} lines) to {args.out}")
    print(f"  legacy modules (copied from fixtures/): {len(LEGACY_COPIES)}")
    print(f"  files using the legacy API: {len(project.legacy_users)}")
    print(f"  ordinary files mentioning legacy names in docstrings/strings: {len(project.mentions)}; "
          f"near misses (own PolicyMetadata / PolicyStoreClient): {len(NEAR_MISS)}")
    print(f"  lines per non-__init__ module: min {lines[0]}, median {lines[len(lines) // 2]}, max {lines[-1]}")
    print("  files per package: " + ", ".join(f"{k} {v}" for k, v in sorted(by_top.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
