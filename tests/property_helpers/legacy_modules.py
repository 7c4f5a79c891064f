"""A hypothesis strategy for modules that use the legacy API in random but valid shapes.

`legacy_modules()` draws a `GeneratedModule`: its source, and the text of every statement that
does not involve a legacy name (unrelated statements and near misses: same-spelled names from
other modules, same-named methods on other objects, legacy names inside plain strings). The
migration must keep each of those statements byte for byte.

Shapes (from ../shared/legacy-api.md): legacy imports in every form (from/as/module/parent
package/relative/grouped/lazy/TYPE_CHECKING/try-except/`# noqa`/dangling/commented-out/`__all__`),
store and record calls, manager calls (incl. the save_agent + save_trainer_state pair), metadata,
mocks, trainer checkpoints, annotations (bare, Optional, list, dict, attributes, returns), cast and
isinstance, legacy statements alone in a block, and unrelated statements interleaved everywhere.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from hypothesis import strategies as st

from codemods.config import DEFAULT_LEGACY_NAMES

#: The module the generated code lives in (relative imports resolve against its package).
MODULE_NAME = "metta.tools.generated"
PACKAGE_NAME = "metta.tools"

#: legacy class -> every qualified name it can be imported by.
QUALIFIED: dict[str, list[str]] = {}
for _qn, _cls in sorted(DEFAULT_LEGACY_NAMES.items()):
    QUALIFIED.setdefault(_cls, []).append(_qn)
CLASSES = sorted(QUALIFIED)

URIS = [
    '"file://./train_dir/run_a/checkpoints"',
    '"./train_dir/run_b/checkpoints/model_0003.pt"',
    '"file:///tmp/train_dir/run_c/checkpoints/agent_epoch_7.pt"',
    "uri",
    'f"file://{run_dir}/checkpoints"',
    '"wandb://run/run_d:v3"',
    '"pytorch://./weights/model.pt"',
]


@dataclass
class GeneratedModule:
    source: str
    unrelated: list[str] = field(default_factory=list)  # exact (indented) texts that must survive
    legacy_classes: set[str] = field(default_factory=set)
    # texts that must survive apart from added marker lines: a near miss that imports a name the
    # module's dangling legacy import also binds (which binding a use means is for a person to decide)
    ambiguous: list[str] = field(default_factory=list)

    def __repr__(self) -> str:  # hypothesis prints this for a failing example
        return f"GeneratedModule(source=\n{self.source}\n)"


class _Names:
    """Fresh, unique identifiers (unique ids also make unrelated statements unique)."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, stem: str) -> str:
        self.n += 1
        return f"{stem}_{self.n}"


# -- imports ---------------------------------------------------------------------------------------

@dataclass
class _Import:
    lines: list[str]  # the import statement(s)
    ref: str  # how the class is spelled where the import is visible


def _import_for(draw: st.DrawFn, cls: str, names: _Names, lazy: bool) -> _Import:
    qn = draw(st.sampled_from(QUALIFIED[cls]))
    module, _, name = qn.rpartition(".")
    parent, _, last = module.rpartition(".")
    forms = ["from", "from_as", "module", "module_as", "parent", "relative"]
    form = draw(st.sampled_from(forms))
    noqa = "  # noqa: F401" if draw(st.booleans()) and not lazy else ""
    if form == "from":
        return _Import([f"from {module} import {name}{noqa}"], name)
    if form == "from_as":
        alias = names(f"Legacy{cls}")
        return _Import([f"from {module} import {name} as {alias}{noqa}"], alias)
    if form == "module":
        return _Import([f"import {module}{noqa}"], f"{module}.{name}")
    if form == "module_as":
        alias = names("legacy_mod")
        return _Import([f"import {module} as {alias}{noqa}"], f"{alias}.{name}")
    if form == "parent":
        return _Import([f"from {parent} import {last}{noqa}"], f"{last}.{name}")
    # relative to metta.tools: `from ..agent.policy_store import PolicyStore`
    rel = "." + module.removeprefix("metta")  # "..agent.policy_store": `..` is `metta` seen from metta.tools
    return _Import([f"from {rel} import {name}{noqa}"], name)


# -- unrelated statements --------------------------------------------------------------------------

@st.composite
def unrelated_statement(draw: st.DrawFn, names: _Names) -> str:
    """A statement that mentions nothing legacy (dedented, may span lines)."""
    n = names("u")
    k = draw(st.integers(0, 99))
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return f"{n} = {k}"
    if kind == 1:
        return f'{n} = compute({k}, key="{n}")  # keep {n}'
    if kind == 2:
        return f'print("{n}", {k})'
    if kind == 3:
        return f"for i_{n} in range({k}):\n    total_{n} = i_{n} * 2"
    if kind == 4:
        return f"if flag_{n}:\n    pass\nelse:\n    {n} = [{k}, {k + 1}]"
    if kind == 5:
        return f"{n} = {{'epoch': {k}, 'run': \"{n}\"}}"
    if kind == 6:
        return f"with open(path_{n}) as fh_{n}:\n    data_{n} = fh_{n}.read()"
    if kind == 7:
        return f"{n}: int = len(items_{n})"
    if kind == 8:
        return f"try:\n    {n} = int(raw_{n})\nexcept ValueError:\n    {n} = {k}"
    return f"assert {n} is not None, \"{n} missing\""


@st.composite
def unrelated_toplevel(draw: st.DrawFn, names: _Names) -> str:
    n = names("helper")
    kind = draw(st.integers(0, 3))
    if kind == 0:
        body = draw(unrelated_statement(names))
        return f"def {n}(a, b=1):\n{textwrap.indent(body, '    ')}\n    return a + b"
    if kind == 1:
        return f"class Thing{n.title().replace('_', '')}:\n    value = {draw(st.integers(0, 9))}\n\n    def get(self):\n        return self.value"
    if kind == 2:
        return f"@decorator_{n}\ndef {n}():\n    \"\"\"Docstring of {n}.\"\"\"\n    return None"
    return draw(unrelated_statement(names))


# -- near misses (must stay byte-identical) ---------------------------------------------------------

_NEAR_MISS_IMPORTS = {
    "PolicyStore": ["from mylib.policy_store import PolicyStore", "from metta.agent.policy_store_v2 import PolicyStore"],
    "PolicyMetadata": ["from newlib.types import PolicyMetadata"],
    "PolicyRecord": ["from other.records import PolicyRecord"],
    "SimpleCheckpointManager": ["from mylib.ckpt import SimpleCheckpointManager"],
    "CheckpointManager": ["from mylib.checkpoints import CheckpointManager"],
}


@st.composite
def near_miss(draw: st.DrawFn, names: _Names, bound: set[str]) -> list[str]:
    """Top-level statements that look legacy but are not (each returned text must survive)."""
    kind = draw(st.integers(0, 6))
    n = names("nm")
    if kind == 0:
        candidates = [(cls, imp) for cls, imps in _NEAR_MISS_IMPORTS.items() for imp in imps if cls not in bound]
        if not candidates:
            return [f'{n} = "PolicyStore and PolicyRecord were replaced by paths"']
        cls, imp = draw(st.sampled_from(candidates))
        bound.add(cls)
        return [imp, f"def {n}(uri):\n    obj = {cls}()\n    rec = obj.policy_record(uri)\n    return rec.policy, rec.uri"]
    if kind == 1 and "PolicyMetadata" not in bound:
        bound.add("PolicyMetadata")
        return ["class PolicyMetadata(dict):\n    epoch: int\n    score: float",
                f"{n} = PolicyMetadata(epoch=1, score=0.5)"]
    if kind == 2:
        return [(f"def {n}(client, uri):\n    agent = client.load_agent()\n    client.save_agent(agent, 1, {{}})\n"
                 f"    return client.policy_record(uri)")]
    if kind == 3:
        return [f'{n} = "PolicyStore and PolicyRecord were replaced by paths"']
    if kind == 4:
        return [f"import metta.agent.policy_storage as {n}"]
    if kind == 5:
        return [f"def {n}(record):\n    return record.policy, record.run_name, record.metadata.epoch"]
    return [f"{n} = {{'policy_store': None, 'policy_record': 1}}"]


# -- legacy usages -----------------------------------------------------------------------------------

@st.composite
def _usage_steps(draw: st.DrawFn, cls: str, ref: str, names: _Names) -> tuple[list[str], list[str]]:
    """(extra parameters, body steps) using class `cls` spelled `ref`; each step is a statement."""
    k = names("v").split("_")[1]
    if cls == "PolicyStore":
        store, pr = f"store_{k}", f"pr_{k}"
        make = draw(st.sampled_from([
            f'{store} = {ref}(device="cpu", data_dir="./train_dir")',
            f"{store} = {ref}.create(device, data_dir, wandb_cfg)",
            f"{store} = {ref}()",
        ]))
        uri = draw(st.sampled_from(URIS))
        call = draw(st.sampled_from([
            f"{pr} = {store}.policy_record({uri})",
            f"{pr} = {store}.load_from_uri({uri})",
            f'{pr} = {store}.policy_record({uri}, selector_type="top", metric="score")',
            f'{pr} = {store}.policy_records({uri}, selector_type="latest")[0]',
        ]))
        uses = draw(st.lists(st.sampled_from([
            f"agent_{k} = {pr}.policy", f"path_{k} = {pr}.uri", f"name_{k} = {pr}.run_name",
            f"epoch_{k} = {pr}.metadata.epoch", f'score_{k} = {pr}.metadata["score"]',
            f'print(f"loaded {{{pr}.run_name}} at {{{pr}.uri}}")', f"results[{pr}.run_name] = {pr}",
            f"records_{k} = [{pr} for {pr} in {store}.policy_records({uri}, selector_type=\"all\")]",
        ]), min_size=0, max_size=3, unique=True))
        return ["uri", "device", "data_dir", "wandb_cfg", "run_dir", "results"], [make, call, *uses]
    if cls in ("PolicyRecord", "PolicyWrapper"):
        ann = draw(st.sampled_from([ref, f"Optional[{ref}]", f"list[{ref}]", f"dict[str, {ref}]"]))
        pr = f"rec_{k}"
        uses = draw(st.lists(st.sampled_from([
            f"x_{k} = cast({ref}, {pr})", f"ok_{k} = isinstance({pr}, {ref})", f"seen_{k}: {ann} = {pr}",
        ]), min_size=1, max_size=2, unique=True))
        return [f"{pr}: {ann}"], uses
    if cls == "PolicyMetadata":
        return [], [draw(st.sampled_from([
            f"meta_{k} = {ref}(epoch=3, agent_step=100)", f"meta_{k} = {ref}(**kw)", f"meta_{k} = {ref}.from_dict(d)",
        ]))]
    if cls == "MockPolicyRecord":
        return [], [f'mock_{k} = {ref}.from_key_and_version("run_{k}", {draw(st.integers(0, 20))})',
                    *draw(st.lists(st.sampled_from([f"p_{k} = mock_{k}.uri", f"n_{k} = mock_{k}.run_name"]),
                                   max_size=2, unique=True))]
    if cls == "SimpleCheckpointManager":
        mgr = f"mgr_{k}"
        make = draw(st.sampled_from([
            f'{mgr} = {ref}(run_dir="./train_dir/run_{k}", run_name="run_{k}")',
            f"{mgr} = {ref}(run_dir=os.path.join(root, name), run_name=name)",
            f'{mgr} = {ref}("./train_dir/run_{k}", "run_{k}")',
        ]))
        uses = draw(st.lists(st.sampled_from([
            f"agent = {mgr}.load_agent()",
            f"{mgr}.save_agent(agent, epoch, {{'score': 1.0}})\n{mgr}.save_trainer_state(optimizer, epoch, step)",
            f"{mgr}.save_agent(agent, epoch, meta)",
            f"state_{k} = {mgr}.load_trainer_state()",
            f'best_{k} = {mgr}.find_best_checkpoint("score")',
            f"where_{k} = {mgr}.checkpoint_dir",
        ]), min_size=1, max_size=3, unique=True))
        return ["root", "name", "agent", "epoch", "optimizer", "step", "meta"], [make, *uses]
    if cls == "SimplePolicyStore":
        sps = f"sps_{k}"
        return ["uri"], [draw(st.sampled_from([f'{sps} = {ref}(device="cpu")', f"{sps} = {ref}.create()"])),
                         f"pw_{k} = {sps}.policy_record({draw(st.sampled_from(URIS))})",
                         *draw(st.lists(st.sampled_from([f"a_{k} = pw_{k}.policy", f"e_{k} = pw_{k}.metadata.epoch"]),
                                        max_size=2, unique=True))]
    if cls == "TrainerCheckpoint":
        return ["run_dir"], [f"ckpt_{k} = {ref}.load(run_dir)", f"start_{k} = ckpt_{k}.epoch if ckpt_{k} else 0"]
    if cls == "PolicyCache":
        return [], [f"cache_{k} = {ref}(max_size=3)", f'cache_{k}.put("key_{k}", None)']
    # PolicySelectorConfig / PolicySelectorType / PolicyMissingError
    if cls == "PolicyMissingError":
        return [], [f"try:\n    thing_{k} = load_{k}()\nexcept {ref}:\n    thing_{k} = None"]
    return [f"selector_{k}: {ref}"], [f"sel_{k} = selector_{k}"]


@st.composite
def _function(draw: st.DrawFn, uses: list[tuple[str, str]], names: _Names, lazy_imports: list[str],
              unrelated: list[str]) -> str:
    """A function using the given (class, ref) pairs, unrelated statements interleaved."""
    params: list[str] = []
    steps: list[str] = []
    for cls, ref in uses:
        extra, body = draw(_usage_steps(cls, ref, names))
        params += [p for p in extra if p not in params and p.split(":")[0] not in [q.split(":")[0] for q in params]]
        steps += body
    # a legacy step sometimes alone in a block
    if steps and draw(st.booleans()):
        i = draw(st.sampled_from(range(len(steps))))
        wrapper = draw(st.sampled_from(["if enabled:", "for _ in range(1):", "with nullcontext():", "while False:"]))
        steps[i] = f"{wrapper}\n{textwrap.indent(steps[i], '    ')}"
        params.append("enabled") if "enabled" not in params else None
    body: list[str] = list(lazy_imports)
    for step in steps:
        for _ in range(draw(st.integers(0, 2))):
            stmt = draw(unrelated_statement(names))
            unrelated.append(textwrap.indent(stmt, "    "))
            body.append(stmt)
        body.append(step)
    if draw(st.booleans()):
        stmt = draw(unrelated_statement(names))
        unrelated.append(textwrap.indent(stmt, "    "))
        body.append(stmt)
    name = names("use")
    text = "\n".join(body)
    return f"def {name}({', '.join(params)}):\n{textwrap.indent(text, '    ')}\n    return None"


@st.composite
def _class_with_fields(draw: st.DrawFn, cls: str, ref: str, names: _Names, unrelated: list[str]) -> str:
    name = names("Holder").replace("_", "")
    field_line = f"{names('field')}: {draw(st.sampled_from([ref, f'Optional[{ref}]', f'list[{ref}]']))}"
    stmt = f"label_{names('c')} = \"holder\""
    unrelated.append("    " + stmt)
    return f"class {name}:\n    {stmt}\n    {field_line}\n\n    def __init__(self, value: {ref}) -> None:\n        self.value = value"


#: Classes whose generated uses are annotations only (so a TYPE_CHECKING import is valid for them).
_ANNOTATION_ONLY = frozenset({"PolicySelectorConfig"})


@st.composite
def legacy_modules(draw: st.DrawFn) -> GeneratedModule:
    names = _Names()
    unrelated: list[str] = []
    classes = draw(st.lists(st.sampled_from(CLASSES), min_size=1, max_size=4, unique=True))
    header: list[str] = ["from __future__ import annotations", "", "import os",
                         "from contextlib import nullcontext", "from typing import Optional, cast"]
    bound: set[str] = set()
    refs: dict[str, str] = {}
    imports: list[str] = []
    typing_block: list[str] = []
    for cls in classes:
        imp = _import_for(draw, cls, names, lazy=False)
        placements = ["top", "top", "top", "try", "late", "lazy"]
        if cls in _ANNOTATION_ONLY:
            placements.append("type_checking")
        placement = draw(st.sampled_from(placements))
        refs[cls] = imp.ref
        if placement == "lazy":
            refs[cls] = "LAZY"
            continue
        if placement == "type_checking":
            typing_block += imp.lines
        elif placement == "try":
            imports.append("try:\n" + textwrap.indent("\n".join(imp.lines), "    ") + "\nexcept ImportError:\n    pass")
        elif placement == "late":
            imports.append("LATE:" + "\n".join(imp.lines))
        else:
            imports += imp.lines
        bound.add(imp.ref.split(".")[0])
    if typing_block:
        header.append("from typing import TYPE_CHECKING")
    early = [i for i in imports if not i.startswith("LATE:")]
    late = [i.removeprefix("LATE:") for i in imports if i.startswith("LATE:")]
    chunks: list[str] = [*early]
    if typing_block:
        chunks.append("if TYPE_CHECKING:\n" + textwrap.indent("\n".join(typing_block), "    "))
    dangling_name = None
    if draw(st.booleans()):  # a dangling import nobody uses, or a commented-out one
        cls = draw(st.sampled_from(CLASSES))
        dangling = _import_for(draw, cls, names, lazy=False)
        # (not added to `bound`: a near miss may rebind the name, as half-migrated code does)
        commented = draw(st.booleans())
        chunks.append(("# " if commented else "") + dangling.lines[0].split("  #")[0])
        dangling_name = None if commented else dangling.ref.split(".")[0]
    if draw(st.booleans()):
        exported = [r for r in refs.values() if r != "LAZY" and "." not in r]
        helper = names("helper")
        chunks.append(f"__all__ = {sorted([*exported, helper])!r}")
        chunks.append(f"def {helper}():\n    return None")
        unrelated.append(f"def {helper}():\n    return None")

    body: list[str] = []
    for cls in classes:
        ref = refs[cls]
        lazy_lines: list[str] = []
        if ref == "LAZY":
            imp = _import_for(draw, cls, names, lazy=True)
            ref, lazy_lines = imp.ref, imp.lines
        if cls in ("PolicyRecord", "PolicyWrapper", "PolicySelectorConfig") and not lazy_lines and draw(st.booleans()):
            body.append(draw(_class_with_fields(cls, ref, names, unrelated)))
        else:
            body.append(draw(_function([(cls, ref)], names, lazy_lines, unrelated)))
    ambiguous: list[str] = []
    for _ in range(draw(st.integers(0, 3))):
        stmts = draw(near_miss(names, bound))
        rebinds = stmts[0].startswith(("from ", "import ")) and stmts[0].rsplit(" ", 1)[1] == dangling_name
        (ambiguous if rebinds else unrelated).extend(stmts)
        body.insert(draw(st.integers(0, len(body))), "\n".join(stmts))
    for _ in range(draw(st.integers(0, 3))):
        stmt = draw(unrelated_toplevel(names))
        unrelated.append(stmt)
        body.insert(draw(st.integers(0, len(body))), stmt)
    parts = ["\n".join(header), *chunks, *body, *late]
    source = "\n\n\n".join(p for p in parts if p) + "\n"
    return GeneratedModule(source, unrelated, set(classes), ambiguous)


#: Minimal legacy modules (path -> source) for a project the generated module lives in, so that
#: `apply` has legacy files to delete (or keep, for a marked manual site).
LEGACY_TREE = {
    "metta/__init__.py": "",
    "metta/agent/__init__.py": "",
    "metta/agent/policy_record.py": "class PolicyRecord:\n    def __init__(self, policy_store, run_name, uri, metadata):\n"
                                    "        self.run_name, self.uri, self.metadata = run_name, uri, metadata\n",
    "metta/agent/policy_store.py": "from metta.agent.policy_record import PolicyRecord\n\n\n"
                                   "class PolicySelectorType:\n    pass\n\n\nclass PolicySelectorConfig:\n    pass\n\n\n"
                                   "class PolicyMissingError(Exception):\n    pass\n\n\nclass PolicyStore:\n"
                                   "    def policy_record(self, uri, selector_type='top', metric='score'):\n"
                                   "        return PolicyRecord(self, 'run', uri, {})\n",
    "metta/agent/policy_metadata.py": "class PolicyMetadata(dict):\n    pass\n",
    "metta/agent/policy_cache.py": "class PolicyCache:\n    def __init__(self, max_size=10):\n        self.max_size = max_size\n",
    "metta/agent/mocks/__init__.py": "from metta.agent.mocks.mock_policy_record import MockPolicyRecord\n\n"
                                     "__all__ = ['MockPolicyRecord']\n",
    "metta/agent/mocks/mock_policy_record.py": "from metta.agent.policy_record import PolicyRecord\n\n\n"
                                               "class MockPolicyRecord(PolicyRecord):\n    pass\n",
    "metta/rl/__init__.py": "",
    "metta/rl/simple_checkpoint_manager.py": "class SimpleCheckpointManager:\n    def __init__(self, run_dir, run_name):\n"
                                             "        self.run_dir, self.run_name = run_dir, run_name\n",
    "metta/rl/trainer_checkpoint.py": "class TrainerCheckpoint:\n    pass\n",
    "metta/sim/__init__.py": "",
    "metta/sim/simple_policy_store.py": "class SimplePolicyStore:\n    pass\n",
    "metta/sim/policy_wrapper.py": "class PolicyWrapper:\n    pass\n\n\nPolicyRecord = PolicyWrapper\n",
    "metta/tools/__init__.py": "",
}
