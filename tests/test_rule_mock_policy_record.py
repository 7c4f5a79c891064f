"""mock_policy_record: MockPolicyRecord.from_key_and_version(k, v) -> checkpoint_path(k, v)."""

from __future__ import annotations

from rule_helpers import check_rule

from codemods.rules import RULES


def test_mock_becomes_the_checkpoint_path_of_run_k_epoch_v() -> None:
    check_rule(RULES, '''from metta.agent.mocks import MockPolicyRecord


def test_key():
    pr = MockPolicyRecord.from_key_and_version("run_a", 3)
    assert pr.run_name == "run_a"
    assert pr.metadata.epoch == 3
''', '''from tinyckpt import checkpoint_path, parse_checkpoint_path


def test_key():
    pr = checkpoint_path("run_a", 3)
    assert parse_checkpoint_path(pr)[0] == "run_a"
    assert parse_checkpoint_path(pr)[1] == 3
''', module_name="tests.test_x")


def test_a_mock_whose_metadata_is_written_stays_a_mock() -> None:
    before = '''from metta.agent.mocks import MockPolicyRecord


def test_policy():
    pr = MockPolicyRecord.from_key_and_version("run_a", 3)
    assert pr.policy is not None
    pr.metadata["score"] = 1.0
'''
    after = before.replace('''    pr.metadata["score"] = 1.0''', '''    # tinyckpt-migrate: manual: pr.metadata["score"]: only the run name and epoch are in a checkpoint path; decide where this value comes from; it holds back 1 other site of the same record (in tests.test_x)
    pr.metadata["score"] = 1.0''')
    check_rule(RULES, before, after, module_name="tests.test_x", sites=[("manual", "policy_records", "metadata")])


def test_a_class_of_the_same_name_defined_here_is_untouched() -> None:
    source = '''class MockPolicyRecord:
    @classmethod
    def from_key_and_version(cls, key, version):
        return cls()


pr = MockPolicyRecord.from_key_and_version("run_a", 3)
print(pr.run_name)
'''
    check_rule(RULES, source, source, module_name="tests.test_x")
