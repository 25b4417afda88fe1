"""Chat rooms over WebSockets (the fastscaffold `websockets` pattern).

- `hub`: the rooms of this worker, one bounded queue and one writer task per
  connection, and the lifespan that starts them.
- `backplane`: how a message reaches every worker: in-process by default,
  one Redis stream per room when REDIS_URL is set; presence and admission.
- `router`: `WS /ws/{room_id}` and `GET /ws/rooms/{room_id}` (presence).
- `security`: the Origin check and the authentication hook; `origins`: what
  an origin is (scheme, host and port).
- `admission`: the connection caps per client address and per worker.
- `settings`: the WS_* settings.
"""
