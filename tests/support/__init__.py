"""Helpers shared by the tests and the benchmarks (fixtures stay in the conftest files)."""
