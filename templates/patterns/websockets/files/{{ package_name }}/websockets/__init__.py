"""Chat rooms over WebSockets (the fastscaffold `websockets` pattern).

- `hub`: the rooms of this worker, and the lifespan that starts them;
  `connection`: one client, its bounded queue and its writer task;
  `presence`: joins and leaves, announced together in `presence` frames.
- `backplane`: how a message reaches every worker, and the in-process
  default; `redis_backplane` (and its Lua `redis_scripts`): one Redis stream
  per room when REDIS_URL is set, presence and admission across workers.
- `router`: `WS /ws/{room_id}` and `GET /ws/rooms/{room_id}` (presence).
- `security`: the Origin check and the authentication hook; `origins`: what
  an origin is (scheme, host and port).
- `admission`: the connection caps per client address and per worker.
- `frames`: the JSON frames the server sends; `settings`: the WS_* settings.
"""
