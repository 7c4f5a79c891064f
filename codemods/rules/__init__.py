"""The rules, in the order they run (the order matters: see the comment on each entry).

Each rule is one module of this package, named after what it rewrites; its class's `NAME` equals
the module name. The README's migration table and `fixtures/` name the same rules.
"""

from __future__ import annotations

from codemods.rules._base import LegacyRule
from codemods.rules.annotations import Annotations
from codemods.rules.checkpoint_manager import CheckpointManagerRule
from codemods.rules.commented_imports import CommentedImports
from codemods.rules.legacy_imports import LegacyImports
from codemods.rules.mock_policy_record import MockPolicyRecordRule
from codemods.rules.policy_cache import PolicyCache
from codemods.rules.policy_metadata import PolicyMetadata
from codemods.rules.policy_records import PolicyRecords
from codemods.rules.policy_selector_config import PolicySelectorConfig
from codemods.rules.policy_store import PolicyStoreCalls
from codemods.rules.store_parameters import StoreParameters
from codemods.rules.trainer_checkpoint import TrainerCheckpoint
from codemods.rules.typing_cast import TypingCast
from codemods.rules.simple_policy_store import SimplePolicyStoreRule
from codemods.rules.simple_store_parameters import SimpleStoreParameters
from codemods.rules.wrapper_annotations import WrapperAnnotations

RULES: list[type[LegacyRule]] = [
    # CheckpointManagerRule: before Annotations (it finds managers by their legacy annotations).
    CheckpointManagerRule,
    # SimplePolicyStoreRule: before Annotations (it finds stores and wrappers by their legacy annotations).
    SimplePolicyStoreRule,
    # WrapperAnnotations: right after it (a wrapper is now a path, annotated str), before the full-legacy
    # rules, which read annotations and would take a half-state PolicyWrapper for a full-legacy record.
    WrapperAnnotations,
    # SimpleStoreParameters: after SimplePolicyStoreRule took the record calls off the stores; decided on
    # the whole tree as it was, so every caller drops exactly the arguments its callee drops.
    SimpleStoreParameters,
    # Full-legacy family (value graph in _dataflow). TrainerCheckpoint first (the graph skips its save
    # pairs). Then the record producers, PolicyStoreCalls (store calls -> tinyckpt calls) and
    # MockPolicyRecordRule (mocks -> checkpoint_path): a producer rewritten keeps its unit's verdict, so
    # each later graph still sees the same units. PolicyRecords (attribute uses) after them: it turns
    # `.uri` into a bare path, after which a graph no longer shows what the record was.
    # StoreParameters last of the family: it changes signatures and decides from the original graphs.
    TrainerCheckpoint,
    PolicyStoreCalls,
    MockPolicyRecordRule,
    PolicyRecords,
    StoreParameters,
    # TypingCast: cast(PolicyRecord, x) -> x (transparent to the graph, so anywhere after it).
    TypingCast,
    # PolicyMetadata: after trainer_checkpoint (whose save pair holds a PolicyMetadata(...)).
    PolicyMetadata,
    # PolicySelectorConfig, PolicyCache: manual sites only.
    PolicySelectorConfig,
    PolicyCache,
    # Annotations: after every rule that reads legacy annotations to find records, wrappers and managers.
    Annotations,
    # LegacyImports: after every rewriting rule; removes each legacy import once nothing left uses it.
    LegacyImports,
    # CommentedImports: commented-out legacy import lines; after every rule that adds imports (AddImportsVisitor
    # may put a blank line above them), so that one blank line stays where the dropped lines sat.
    CommentedImports,
]

__all__ = ["RULES", "LegacyRule"]
