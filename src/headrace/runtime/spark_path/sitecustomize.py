"""Headrace's hook for task processes with Spark (see headrace.runtime.spark).

On a task's PYTHONPATH this module shadows the interpreter's own `sitecustomize`, which is
therefore run right after (found further down sys.path).
"""

import contextlib
import importlib.util
import os
import sys


def _chain() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    for folder in sys.path:
        if not folder or os.path.abspath(folder) == here:
            continue
        path = os.path.join(folder, "sitecustomize.py")
        if os.path.isfile(path):
            spec = importlib.util.spec_from_file_location("_site_sitecustomize", path)
            if spec is not None and spec.loader is not None:
                # The interpreter's own hook is best effort, as in site.py.
                with contextlib.suppress(Exception):
                    spec.loader.exec_module(importlib.util.module_from_spec(spec))
            return


_chain()
# A task on a cluster: the runtime's packages (pyspark, ...; headrace.compute.runtime_packages)
# after everything else, so the task environment's own versions win.
_runtime = os.environ.get("HEADRACE_RUNTIME_PACKAGES")
if _runtime and os.path.isdir(_runtime) and _runtime not in sys.path:
    sys.path.append(_runtime)
if os.environ.get("HEADRACE_SPARK_HOOK"):
    try:
        from headrace.runtime.spark import install_hooks

        install_hooks()
    except ImportError:  # Headrace not importable here: the task runs without the hook
        pass
