"""The `headrace` command line (a face: it calls the engine and store, never re-implements them)."""
