// The chat page: one WebSocket at a time, to the room picked; reconnects with backoff.
"use strict";

const statusLine = document.getElementById("status");
const presence = document.getElementById("presence");
const log = document.getElementById("log");
const form = document.getElementById("send");
const input = document.getElementById("message");
const sendButton = document.getElementById("send-button");

let room = "lobby";
let socket = null;
let attempt = 0;
let retryTimer = null;

function setStatus(text, kind) {
  statusLine.textContent = text;
  statusLine.className = kind || "muted";
}

// Exponential backoff from 0.5 s up to 30 s, with jitter so that clients cut
// off together do not all come back in the same instant.
function backoff(failures) {
  const ceiling = Math.min(30000, 500 * 2 ** failures);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function socketUrl(name) {
  // Relative to this page, so it works under a path prefix too; ws: or wss: as the page.
  const url = new URL(`../ws/${encodeURIComponent(name)}`, location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url;
}

function line(parts) {
  const p = document.createElement("p");
  for (const [text, className] of parts) {
    const span = document.createElement("span");
    span.textContent = text;
    if (className) span.className = className;
    p.append(span);
  }
  log.append(p);
  log.scrollTop = log.scrollHeight;
}

// This connection's own id, from its `welcome` frame (the first it gets).
let me = null;

function who(sender) {
  return sender === me ? `${sender} (you)` : sender;
}

function show(frame) {
  if (frame.type === "message") line([[who(frame.sender), "muted"], [": "], [frame.data]]);
  else if (frame.type === "presence") {
    // Joins and leaves come collected over a short interval: apply joined, then left.
    for (const member of frame.joined) line([[`${who(member)} joined`, "muted"]]);
    for (const member of frame.left) line([[`${who(member)} left`, "muted"]]);
  } else if (frame.type === "error") line([[`error: ${frame.data}`, "error"]]);
}

async function refreshPresence() {
  const asked = room;
  try {
    const response = await fetch(`../ws/rooms/${encodeURIComponent(asked)}`);
    if (!response.ok || asked !== room) return;
    const body = await response.json();
    presence.replaceChildren(
      ...body.members.map((member) => {
        const li = document.createElement("li");
        li.textContent = who(member);
        return li;
      }),
    );
  } catch (error) {
    // The socket's own reconnection reports the outage; the list is refreshed then.
  }
}

function connect() {
  clearTimeout(retryTimer);
  const ws = new WebSocket(socketUrl(room));
  socket = ws;
  setStatus(`connecting to ${room}…`);
  ws.onopen = () => {
    if (ws !== socket) return;
    attempt = 0;
    setStatus(`connected to ${room}`, "ok");
    sendButton.disabled = false;
    refreshPresence();
  };
  ws.onmessage = (event) => {
    if (ws !== socket) return;
    const frame = JSON.parse(event.data);
    if (frame.type === "welcome") {
      me = frame.sender;
      setStatus(`connected to ${room} as ${me}`, "ok");
      return;
    }
    show(frame);
    if (frame.type === "presence") refreshPresence();
  };
  ws.onclose = (event) => {
    if (ws !== socket) return; // a socket we closed on purpose (room switch)
    socket = null;
    sendButton.disabled = true;
    const delay = backoff(attempt);
    attempt += 1;
    const reason = event.reason ? `: ${event.reason}` : "";
    setStatus(`disconnected (${event.code}${reason}); retrying in ${(delay / 1000).toFixed(1)} s`, "error");
    retryTimer = setTimeout(connect, delay);
  };
}

function pick(name) {
  for (const button of document.querySelectorAll("button.room")) {
    button.setAttribute("aria-pressed", String(button.dataset.room === name));
  }
  if (name === room && socket) return;
  room = name;
  const previous = socket;
  socket = null; // its close event is then ignored
  if (previous) previous.close(1000, "switching rooms");
  log.replaceChildren();
  presence.replaceChildren();
  attempt = 0;
  connect();
}

for (const button of document.querySelectorAll("button.room")) {
  button.addEventListener("click", () => pick(button.dataset.room));
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!socket || socket.readyState !== WebSocket.OPEN || !input.value) return;
  socket.send(input.value);
  input.value = "";
});

pick(room);
