"""Notebook tests: the real `headrace` CLI and real Jupyter kernels, one HEADRACE_HOME each."""

from support import hr, reap

__all__ = ["hr", "reap"]
