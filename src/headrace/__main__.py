"""`python -m headrace` is the `headrace` command."""

from headrace.cli.entry import main

main()
