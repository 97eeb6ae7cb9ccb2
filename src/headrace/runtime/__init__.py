"""What task code sees: `from headrace.runtime import dbutils, display`.

Talks to the worker only through the files named in `HEADRACE_CONTEXT`,
`HEADRACE_TASK_VALUES` and `HEADRACE_OUTPUT`, never to the store; imports nothing heavy.
"""

from headrace.runtime.dbutils import DBUtils, TaskValueError, dbutils
from headrace.runtime.display import display, displayHTML

__all__ = ["DBUtils", "TaskValueError", "dbutils", "display", "displayHTML"]
