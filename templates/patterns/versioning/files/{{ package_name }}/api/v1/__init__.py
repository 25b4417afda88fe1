"""A version's edge: users with a single `name`, paged by offset.

The version's name and lifecycle come from versions.toml; nothing here names it.
"""

from .routes import router

__all__ = ["router"]
