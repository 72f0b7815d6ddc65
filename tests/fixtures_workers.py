"""Fixtures that run real RQ workers against the test Redis — see tests/test_push_*.py."""
