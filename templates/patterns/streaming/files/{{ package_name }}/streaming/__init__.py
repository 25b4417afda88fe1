"""Streaming exports: CSV and NDJSON read from the database batch by batch.

`GET /exports/items.csv` and `GET /exports/items.ndjson` stream the `items`
table with constant memory: one cursor, batched fetches, one reused buffer and
chunks of 64 KiB or more. `python -m <package> seed-items --rows N` loads demo rows.
"""
