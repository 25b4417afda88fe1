"""Durable background jobs with status, progress and cancellation.

Jobs are plain async functions registered in :mod:`.jobs`. By default the
queue and the job store live in the app's database (SQLite in WAL mode) and
workers run inside the app; with ``REDIS_URL`` set, jobs travel over taskiq on
a Redis stream to ``python -m <package> worker`` processes. The HTTP API is
the same either way, and the database stays the source of truth: see
:mod:`.service` for the delivery guarantees and :mod:`.broker` for how the
stream recovers from crashes and Redis outages.
"""
