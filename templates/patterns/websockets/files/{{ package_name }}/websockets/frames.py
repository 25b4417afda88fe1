"""The JSON frames the server sends.

Every frame is one JSON object:

    {"seq": 1767225600123457, "prev": 1767225600123456, "type": "message",
     "room": "lobby", "sender": "3f9c2a1b", "ts": 1767225600123, "data": "hello"}

- `type`: `message`, `presence`, `welcome` or `error`;
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
- `sender`: the connection that sent the message (`server` on `presence` and
  `error` frames; on `welcome`, the newcomer's own id);
- `ts`: the server's clock when the frame was made, in Unix milliseconds;
- `data`: the message text, `null` for `presence` and `welcome`, the reason
  for `error`;
- `joined` and `left` (`presence` frames only): who joined and who left the
  room since the previous `presence` frame of that worker. Joins and leaves
  are collected for WS_PRESENCE_INTERVAL seconds and announced together, so
  a join costs the room one frame per interval, not one frame per member
  (1,000 clients joining at once: a few frames each, not 500,000 in all).
  A member that joined and left within one interval is in both lists: apply
  `joined`, then `left`.

`welcome` and `error` frames go to one connection only and are outside the
sequence: their `seq` and `prev` are `null`. A newcomer's first frame is its
`welcome`, whose `sender` is its own id.

A frame is encoded once, then the same ASGI message is queued for every
recipient. The Redis backplane builds the same format in Lua (see
`redis_scripts`).
"""

import json
import time
from collections.abc import Iterable
from typing import Any, Literal

FrameType = Literal["message", "presence", "welcome", "error"]

# The ASGI message that sends one text frame (shared by every recipient: read-only).
SendMessage = dict[str, Any]


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


def welcome_frame(room: str, sender: str) -> str:
    """Return the `welcome` frame that tells a newcomer its own id (for it only)."""
    return numbered(None, None, encode_body("welcome", room, sender, None))


def presence_body(room: str, joined: Iterable[str], left: Iterable[str]) -> str:
    """Return a `presence` frame without `seq` and `prev`: who joined and who left."""
    body = encode_body("presence", room, "server", None)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    return f'{body[:-1]},"joined":{dumps(list(joined))},"left":{dumps(list(left))}}}'


def send_message(frame: str) -> SendMessage:
    """Return the ASGI message that sends ``frame`` as one text frame."""
    return {"type": "websocket.send", "text": frame}
