"""Durable background jobs with status, progress and cancellation.

Jobs are plain async functions registered in :mod:`.jobs`. By default the
queue and the job store live in the app's database (SQLite in WAL mode) and
workers run inside the app; with ``REDIS_URL`` set, jobs travel over taskiq's
Redis streams to ``python -m <package> worker`` processes. The HTTP API is
the same either way.
"""
