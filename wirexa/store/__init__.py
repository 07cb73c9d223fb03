"""Persistence: tables, migrations and queries. Knows nothing about HTTP or SIP."""
