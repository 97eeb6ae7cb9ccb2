"""Fixtures shared by every test tier."""

from pg_support import pg_schema

__all__ = ["pg_schema"]
