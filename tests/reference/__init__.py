"""Slow, obviously-correct implementations that the fast paths are tested against."""
