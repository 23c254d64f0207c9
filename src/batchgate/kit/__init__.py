"""Small settings-free helpers, one topic per module."""
