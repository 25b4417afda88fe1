"""A version's edge: users with given and family names, paged with a cursor.

The version's name and lifecycle come from versions.toml; nothing here names it.
"""

from .routes import router

__all__ = ["router"]
