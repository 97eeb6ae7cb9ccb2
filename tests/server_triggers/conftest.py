"""Fixtures: the real `headrace` CLI (which also starts the server), one HEADRACE_HOME per test."""

from support import hr

__all__ = ["hr"]
