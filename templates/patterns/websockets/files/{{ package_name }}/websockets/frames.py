"""The JSON frames the server sends.

Every frame is one JSON object:

    {"seq": 1767225600123457, "prev": 1767225600123456, "type": "message",
     "room": "lobby", "sender": "3f9c2a1b", "ts": 1767225600123, "data": "hello"}

- `type`: `message`, `join`, `leave` or `error`;
- `seq`: the room's sequence number, the same on every worker. It only ever
  grows: it goes up by one per frame sent to the room, and a room whose
  counter is new (its first frame, or Redis restarted and lost it) starts
  from the clock in microseconds, above every number handed out before, so
  it does not go backwards after a Redis restart or a reconnect either (as
  long as the server clock does not go back by more than the outage). It
  stays below 2**53, so JavaScript numbers hold it exactly;
- `prev`: the `seq` of the frame sent to the room just before this one, or
  `null` when the room's numbering (re)started with this frame. A client
  that last saw `seq` S and then gets a frame whose `prev` is not S missed
  frames in between (`prev` null after frames were seen: the room's history
  restarted, and frames may have been lost);
- `sender`: the connection that sent the message, joined or left (`server` on
  errors);
- `ts`: the server's clock when the frame was made, in Unix milliseconds;
- `data`: the message text, `null` for `join` and `leave`, the reason for `error`.

`error` frames go to one connection only and are outside the sequence:
their `seq` and `prev` are `null`.

A frame is encoded once, then the same string is queued for every recipient.
The Redis backplane builds the same format in Lua (see `backplane`).
"""

import json
import time
from typing import Literal

FrameType = Literal["message", "join", "leave", "error"]


def encode_body(kind: FrameType, room: str, sender: str, data: str | None) -> str:
    """Return the frame as JSON, without `seq` and `prev` (added by `numbered`)."""
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


def numbered(seq: int | None, prev: int | None, body: str) -> str:
    """Return ``body`` (a JSON object) with ``seq`` and ``prev`` as its first fields."""
    return f'{{"seq":{_number(seq)},"prev":{_number(prev)},{body[1:]}'


def _number(value: int | None) -> str:
    return "null" if value is None else str(value)


def clock_seq() -> int:
    """Return the first sequence number of a new counter: the clock, in microseconds."""
    return time.time_ns() // 1000


def error_frame(room: str, reason: str) -> str:
    """Return an `error` frame, for one connection only."""
    return numbered(None, None, encode_body("error", room, "server", reason))
