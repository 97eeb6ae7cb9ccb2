"""Delivering notifications: the outbox loop, SMTP and webhook channels, destinations.

Which events notify whom is decided in `headrace.engine.notifications` (pure rules); the
coordinator writes outbox rows in its transactions; this package sends them.
"""
