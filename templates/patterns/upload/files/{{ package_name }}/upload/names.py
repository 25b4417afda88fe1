"""Display names of uploaded files: cleaned for showing and for download headers.

Files are never stored under these names (the server generates the stored
name); the display name is only shown in listings and offered in the download's
`Content-Disposition`. Cleaning still matters there: a name with path
separators, `..`, control or bidirectional-override characters, a reserved
Windows device name or thousands of characters would mislead people or break
the tools that save the download.
"""

import re
import unicodedata
from urllib.parse import quote

MAX_NAME_CHARS = 200
"""Longest display name kept, in characters (the extension is kept when shortening)."""

DEFAULT_NAME = "file"
"""The name used when nothing usable is left of the client's."""

_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", "conin$", "conout$"}
    | {f"com{i}" for i in "0123456789¹²³"}
    | {f"lpt{i}" for i in "0123456789¹²³"}
)
_UNSAFE = re.compile(r'[<>:"|?*\\/]')
_SPACES = re.compile(r"\s+")
# Control (Cc), format (Cf: bidi overrides, zero-width), separators (Zl, Zp),
# surrogates (Cs) and unassigned (Cn) characters are dropped.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"})


def sanitize_filename(raw: str | None, *, max_chars: int = MAX_NAME_CHARS) -> str:
    r"""Return a display name that is safe to show and to offer in a download.

    Only the last path component is kept (``/`` and ``\\`` both separate);
    invisible and control characters are dropped; characters Windows forbids
    become ``_``; leading dots and trailing dots and spaces go (no ``..``, no
    hidden files); reserved device names (``CON``, ``LPT1``...) get a ``_``
    prefix; the name is shortened to ``max_chars``, keeping its extension.
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in _DROPPED_CATEGORIES)
    name = _UNSAFE.sub("_", name)
    name = _SPACES.sub(" ", name).strip(" .")
    if not name:
        return DEFAULT_NAME
    stem = name.split(".", 1)[0].rstrip(" ").lower()
    if stem in _WINDOWS_RESERVED:
        name = f"_{name}"
    if len(name) > max_chars:
        base, dot, extension = name.rpartition(".")
        if dot and base and 0 < len(extension) <= 16:
            name = base[: max_chars - len(extension) - 1].rstrip(" .") + "." + extension
        else:
            name = name[:max_chars].rstrip(" .")
    return name or DEFAULT_NAME


def content_disposition(filename: str, *, disposition: str = "attachment") -> str:
    """Return a ``Content-Disposition`` value offering ``filename`` (RFC 6266 and RFC 8187).

    Old clients read the ASCII ``filename``; current ones the UTF-8 ``filename*``.
    """
    # Accents go ("é" -> "e"); other non-ASCII and special characters become "_".
    decomposed = unicodedata.normalize("NFKD", filename)
    ascii_name = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    ascii_name = re.sub(r"[^A-Za-z0-9 !#$&+,.;=@^_`{}~()\[\]'-]", "_", ascii_name).strip(" .")
    ascii_name = ascii_name or DEFAULT_NAME
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
