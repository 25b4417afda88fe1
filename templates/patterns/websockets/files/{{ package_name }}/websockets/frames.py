"""The JSON frames the server sends.

Every frame is one JSON object:

    {"seq": 42, "type": "message", "room": "lobby", "sender": "3f9c2a1b",
     "ts": 1767225600123, "data": "hello"}

- `type`: `message`, `join`, `leave` or `error`;
- `seq`: the room's sequence number (it increases by one per frame sent to the
  room, on every worker when Redis is used; `null` on `error` frames, which
  only their recipient sees);
- `sender`: the connection that sent the message, joined or left (`server` on
  errors);
- `ts`: the server's clock when the frame was made, in Unix milliseconds;
- `data`: the message text, `null` for `join` and `leave`, the reason for `error`.

A frame is encoded once, then the same string is queued for every recipient.
"""

import json
import time
from typing import Literal

FrameType = Literal["message", "join", "leave", "error"]


def encode_body(kind: FrameType, room: str, sender: str, data: str | None) -> str:
    """Return the frame as JSON, without its sequence number (added by `numbered`)."""
    return json.dumps(
        {
            "type": kind,
            "room": room,
            "sender": sender,
            "ts": time.time_ns() // 1_000_000,
            "data": data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def numbered(seq: int | None, body: str) -> str:
    """Return ``body`` (a JSON object) with ``seq`` as its first field."""
    return '{"seq":' + ("null" if seq is None else str(seq)) + "," + body[1:]


def error_frame(room: str, reason: str) -> str:
    """Return an `error` frame, for one connection only."""
    return numbered(None, encode_body("error", room, "server", reason))
