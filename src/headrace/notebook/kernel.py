"""The notebook kernel: ipykernel with Headrace's namespace and magics installed first.

Started by the runner as `python -m headrace.notebook.kernel -f CONNECTION_FILE`; if the
set-up fails the kernel dies at once and the runner reports why, instead of cells failing
later with `NameError: dbutils`.
"""

from __future__ import annotations

import sys


def main() -> None:
    from ipykernel.kernelapp import IPKernelApp

    from headrace.notebook.magics import install

    app = IPKernelApp.instance()
    app.initialize(sys.argv[1:])
    install(app.shell)
    app.start()


if __name__ == "__main__":
    main()
