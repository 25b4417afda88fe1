"""File uploads: streamed to disk with flat memory, limited and typed as they arrive.

`router.py` has the endpoints, `receive.py` the streaming, `policy.py` the type
checks, `names.py` the display names, `storage.py` the storage interface and
its local-disk implementation, `models.py` the metadata table and `deps.py`
the settings, the start-up hook and the owner hook.
"""
