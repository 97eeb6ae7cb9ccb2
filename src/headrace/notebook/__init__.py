"""Running notebooks as tasks: Jupyter `.ipynb` and Databricks source `.py`/`.sql` notebooks.

Runs inside the task process (`python -m headrace.notebook.runner`), never in the worker:
`source` parses Databricks source notebooks, `paths` finds notebooks, `kernel` and `magics`
are the Jupyter kernel's side (dbutils, %sql, %run, ...), `runner` drives the kernel with
nbclient, `child` runs `dbutils.notebook.run`, `export` renders an executed notebook as HTML.
"""
