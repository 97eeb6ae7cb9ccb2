"""What task code sees: `from headrace.runtime import dbutils`.

Talks to the worker only through the files named in `HEADRACE_CONTEXT` and
`HEADRACE_TASK_VALUES`, never to the store; imports nothing heavy.
"""

from headrace.runtime.dbutils import DBUtils, TaskValueError, dbutils

__all__ = ["DBUtils", "TaskValueError", "dbutils"]
