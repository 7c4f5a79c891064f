"""Hypothesis strategies for the property tests (tests/test_properties.py)."""
