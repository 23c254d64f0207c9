"""Helpers for tests that run batchgate as real processes over loopback."""
