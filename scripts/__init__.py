"""Operator and CI scripts (run as files: .venv/bin/python scripts/<name>.py)."""
