"""The rules: small planners over one analysis (see _rule.py). Their order is the order of their sites
in reports and of `--list-rules`; it does not change what they do (every rule plans on the original
tree, and the engine applies all edits in one pass, imports last)."""

from __future__ import annotations

from codemods.rules._rule import Rule
from codemods.rules.annotations import Annotations
from codemods.rules.checkpoint_manager import CheckpointManagerRule
from codemods.rules.commented_imports import CommentedImports
from codemods.rules.held_back import HeldBack
from codemods.rules.legacy_imports import LegacyImports
from codemods.rules.mock_policy_record import MockPolicyRecordRule
from codemods.rules.policy_cache import PolicyCache
from codemods.rules.policy_metadata import PolicyMetadata
from codemods.rules.policy_records import PolicyRecords
from codemods.rules.policy_selector_config import PolicySelectorConfig
from codemods.rules.policy_store import PolicyStoreCalls
from codemods.rules.simple_policy_store import SimplePolicyStoreRule
from codemods.rules.simple_store_parameters import SimpleStoreParameters
from codemods.rules.store_parameters import StoreParameters
from codemods.rules.trainer_checkpoint import TrainerCheckpoint
from codemods.rules.typing_cast import TypingCast

RULES: list[type[Rule]] = [
    CheckpointManagerRule,
    SimplePolicyStoreRule,
    SimpleStoreParameters,
    TrainerCheckpoint,
    PolicyStoreCalls,
    MockPolicyRecordRule,
    PolicyRecords,
    StoreParameters,
    TypingCast,
    PolicyMetadata,
    PolicySelectorConfig,
    PolicyCache,
    Annotations,
    HeldBack,
    LegacyImports,
    CommentedImports,
]

__all__ = ["RULES", "Rule"]
