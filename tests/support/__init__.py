"""Helpers shared by tests and benchmarks: synthetic data and landing-folder tools."""
