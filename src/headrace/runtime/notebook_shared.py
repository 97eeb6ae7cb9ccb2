"""What the notebook runner (`headrace.notebook`) and `dbutils.notebook` agree on.

Its own module so that `notebook.child` need not import `runtime.notebook`, which imports it.
"""

from __future__ import annotations

# Set by the notebook runner in its kernel's environment: where exit() leaves the value.
EXIT_FILE_ENV = "HEADRACE_NOTEBOOK_EXIT"
# The notebook the kernel is running (relative %run / notebook.run paths start from its folder).
NOTEBOOK_PATH_ENV = "HEADRACE_NOTEBOOK_PATH"


class NotebookRunError(RuntimeError):
    """A notebook started by `dbutils.notebook.run` failed or timed out."""
