"""The revisions: each pattern's on its own branch, yours on the ``app`` branch."""
