"""PolicyWrapper annotations -> str, right after simple_policy_store turned the wrappers into paths."""

from __future__ import annotations

from codemods.rules.annotations import Annotations


class WrapperAnnotations(Annotations):
    """The half-state part of `annotations`, run early: once a wrapper variable holds a path its annotation
    says so, and no later rule (the full-legacy record rules read annotations) mistakes it for a record."""

    NAME = "wrapper_annotations"
    RELEVANT = frozenset({"PolicyWrapper"})
    DESCRIPTION = "Annotations PolicyWrapper (and its alias PolicyRecord in metta.sim.policy_wrapper) -> str."  # noqa: TCK004 (documents the legacy paths it matches)
    TO_STR = frozenset({"PolicyWrapper"})
    RENAMED: dict[str, str] = {}
