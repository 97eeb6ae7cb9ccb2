"""End-to-end fixtures: the real `headrace` CLI as a subprocess, one HEADRACE_HOME per test."""

from support import hr, reap

__all__ = ["hr", "reap"]
