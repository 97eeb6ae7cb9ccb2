"""The web UI: server-rendered pages (Jinja2) at `/`, served by `headrace server`.

Nothing here is imported by the CLI's `run` path: `headrace.api.app` mounts it, and Jinja2 is
imported when the first page is rendered.
"""
