"""Helpers shared by the tests (and the benchmarks): landing folders, simulated worlds."""
