"""Manual sites by kind, and the decisions a team takes once for every site of a kind.

Every manual reason belongs to a kind with a stable code and a short name (`TCK-M108
best-checkpoint`); reports group manual sites by kind. A kind may offer choices: simple tinyckpt
forms the plan calls for, never a compatibility shim. `[tool.tinyckpt-migrate.decisions]` in
pyproject.toml (`best-checkpoint = "latest"`, by name or code; `decisions = "simple"` takes every
kind's simple choice) and `--decide CODE=CHOICE` / `--decide all=simple` apply a choice to every site
of its kind. The default for every kind is "manual": nothing changes meaning unless a person chose it,
and `diff` shows the result before `apply`. LibCST-free (the rules, the reports and `check` share it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

MANUAL = "manual"  # every kind's default choice: the site is marked and left as it is


@dataclass(frozen=True)
class Kind:
    code: str
    name: str
    rules: tuple[str, ...]  # the rules whose manual sites are of this kind
    pattern: str  # a regular expression the start of the manual reason matches
    what: str  # what a person decides
    choices: Mapping[str, str] = field(default_factory=dict)  # choice -> the code it writes
    simple: str | None = None  # the choice `decisions = "simple"` takes

    def matches(self, rule: str, message: str) -> bool:
        return rule in self.rules and re.match(self.pattern, message) is not None


KINDS: tuple[Kind, ...] = (
    Kind("TCK-M101", "selector-by-metric", ("policy_store",),
         r'selector "(top|rand)"|(metric|n)= with selector|stats-server scores',
         "which checkpoint a selector by metric (or random, or by stats-server scores) picks: tinyckpt keeps "
         "no scores",
         {"latest": 'policy_records(uri, selector_type="top", ...) -> [latest_checkpoint(uri)] ("all" -> '
                    "list_checkpoints(uri)); policy_record(uri, ...) -> latest_checkpoint(uri); the dropped "
                    "metric is named in a comment"},
         "latest"),
    Kind("TCK-M102", "selector-config", ("policy_selector_config",), r"PolicySelector(Config|Type)",
         "what a PolicySelectorConfig / PolicySelectorType setting becomes",
         {"drop": "a class field holding one is removed, with a comment, once nothing in the project uses it "
                  "(its n= / metric= reads dropped by TCK-M101 / TCK-M114 decisions); other uses stay manual"},
         "drop"),
    Kind("TCK-M103", "record-built-by-hand", ("policy_store", "simple_policy_store"),
         r"(PolicyRecord|PolicyWrapper)\(\.\.\.\) built by hand|PolicyRecord built by hand",
         "where a record built by hand is saved or read",
         {"save-checkpoint": 'pr = PolicyRecord(store, RUN, "[file://]<BASE>/<RUN>/<file>", {"epoch": E, ...}); '
                             "pr.policy = agent; store.save(pr) -> pr = str(save_checkpoint(agent, RUN, E, "
                             "base_dir=BASE)): the agent alone, in the tinyckpt layout; other metadata is named in a "
                             "comment. Other records built by hand stay manual"},
         "save-checkpoint"),
    Kind("TCK-M104", "store-save", ("policy_store",), r"PolicyStore\.save",
         "where a checkpoint saved through the store is written"),
    Kind("TCK-M105", "record-or-mock", ("policy_store", "simple_policy_store"), r"policy_record_or_mock",
         "what stands in when no policy URI is given",
         {"path-or-none": "store.policy_record_or_mock(uri, run_name=...) -> (latest_checkpoint(uri) if uri is not "
                          "None else None): no mock policy (for a URI that is a name or attribute, on a PolicyStore or a "
                          "SimplePolicyStore). Without a URI "
                          "every use of the record gets None (torch.load for its agent, parse_checkpoint_path for its "
                          "run name): handle that case there (a type checker points at it)"},
         "path-or-none"),
    Kind("TCK-M106", "missing-error", ("policy_store",), r"PolicyMissingError",
         "what a handler of PolicyMissingError catches",
         {"file-not-found": "except FileNotFoundError (what tinyckpt raises when a run has no checkpoint)"},
         "file-not-found"),
    Kind("TCK-M107", "remote-uri", ("policy_store", "simple_policy_store"), r"(wandb|pytorch)://|wandb uploads",
         "where a wandb:// or pytorch:// checkpoint comes from (download it, or point at a local file), and how "
         "checkpoints are published instead of a wandb upload",
         {"not-implemented": "a PolicyStore or SimplePolicyStore load of a wandb:// URI -> the URI, with `raise "
                             "NotImplementedError(...)` "
                             "naming it just before its statement; a statement that is a store's wandb upload "
                             "(add_to_wandb_run / _sweep / _artifact) -> `raise NotImplementedError(...)` (the plan "
                             "drops wandb)"},
         "not-implemented"),
    Kind("TCK-M108", "best-checkpoint", ("checkpoint_manager",), r"find_(best_checkpoint|checkpoints_by_score)",
         "how to pick the best checkpoint, or the checkpoints above a score: tinyckpt keeps no scores",
         {"latest": "find_best_checkpoint(m) -> the latest checkpoint's path (None when there is none); "
                    "find_checkpoints_by_score(s) -> every checkpoint's path, oldest first"},
         "latest"),
    Kind("TCK-M109", "unproven-store", ("policy_store", "simple_policy_store"), r"a store call on a value",
         "which checkpoint a call on a value that may not be a store loads"),
    Kind("TCK-M110", "trainer-state", ("trainer_checkpoint",), r"TrainerCheckpoint",
         "where a trainer state outside the trainer's save pair is written or read"),
    Kind("TCK-M111", "type-check", ("typing_cast",), r"records are checkpoint path strings now",
         "what an isinstance check against a record class becomes",
         {"str": "isinstance(x, PolicyRecord) -> isinstance(x, str), and x is a checkpoint path where it passes "
                 "(a plain str passes too)"},
         "str"),
    Kind("TCK-M112", "manager-shape", ("checkpoint_manager",), r"",
         "a SimpleCheckpointManager use with no tinyckpt counterpart (its own message says which)"),
    Kind("TCK-M113", "record-shape", ("policy_store", "simple_policy_store", "policy_records", "annotations",
                                      "mock_policy_record", "policy_metadata", "policy_cache", "legacy_imports"),
         r"", "a record, metadata or import use with no counterpart (its own message says which)"),
    Kind("TCK-M114", "selector-variable", ("policy_store",), r"selector .+ is not a literal",
         "which checkpoints a selector read at run time (from a config, an attribute) selects",
         {"branch": 'policy_records(uri, selector_type=sel) -> (list_checkpoints(uri) if sel == "all" else '
                    "[latest_checkpoint(uri)]); policy_record(uri, selector_type=sel) -> latest_checkpoint(uri); "
                    'every value but "all" takes the latest checkpoint'},
         "branch"),
    Kind("TCK-M190", "held-back", ("held_back",), r"",
         "nothing here: it migrates with its unit once the site its marker names is decided"),
    Kind("TCK-M191", "module-kept", ("delete_legacy_modules",), r"",
         "nothing here: the module goes once nothing imports it (its importers are listed)"),
)
BY_CODE = {k.code: k for k in KINDS}
BY_NAME = {k.name: k for k in KINDS}


def kind_of(rule: str, message: str) -> Kind | None:
    """The kind of a manual site (the first kind, in code order, whose rule and pattern match; the catch-all
    kinds, with an empty pattern, last)."""
    return next((k for k in sorted(KINDS, key=lambda k: not k.pattern) if k.matches(rule, message)), None)


class DecisionError(ValueError):
    """A decision names a kind or a choice that does not exist."""


def parse_decisions(value: object, where: str = "decisions") -> dict[str, str]:
    """{code: choice} from a table ({"best-checkpoint": "latest"}, names or codes; "all": "simple")
    or the string "simple"; DecisionError names what is wrong (and what exists)."""
    if value == "simple":
        value = {"all": "simple"}
    if not isinstance(value, Mapping):
        raise DecisionError(f'{where} must be a table of kind = "choice", or "simple"')
    out: dict[str, str] = {}
    for key, choice in value.items():
        if not isinstance(choice, str):
            raise DecisionError(f"{where}: the choice for {key} must be a string")
        if key == "all":
            if choice not in ("simple", MANUAL):
                raise DecisionError(f'{where}: all = "simple" or "manual" (got {choice!r})')
            out.update({k.code: (k.simple if choice == "simple" else MANUAL) for k in KINDS if k.simple})
            continue
        kind = BY_CODE.get(key) or BY_NAME.get(key)
        if kind is None:
            raise DecisionError(f"{where}: no kind {key!r} (kinds with choices: "
                                f"{', '.join(f'{k.code} {k.name}' for k in KINDS if k.choices)})")
        if choice != MANUAL and choice not in kind.choices:
            raise DecisionError(f"{where}: {kind.code} {kind.name} has no choice {choice!r} (choices: "
                                f"{', '.join([MANUAL, *kind.choices])})")
        out[kind.code] = choice
    return out


def chosen(decisions: Mapping[str, str], name: str) -> str:
    """The choice taken for the kind of this name ("manual" when none was)."""
    return decisions.get(BY_NAME[name].code, MANUAL)
