"""Rekap: event-driven vote-count tabulation for Indonesian regional elections (Pilkada)."""

__version__ = "0.1.0"
