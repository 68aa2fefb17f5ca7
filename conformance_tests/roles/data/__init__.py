"""Conformance tests (registered with @conformance_test)."""
