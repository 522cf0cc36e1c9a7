"""Operator commands (``python -m ops ...``) against the local cloud or a real project."""
