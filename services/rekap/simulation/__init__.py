"""Simulated terminals: consistent forms, their corruptions, signed records (tests, demo, load tests)."""
