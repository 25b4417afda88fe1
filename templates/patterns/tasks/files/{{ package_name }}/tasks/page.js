// The task page: POST /tasks, then GET /tasks/{id}/events (SSE) until the task ends.
"use strict";

const form = document.getElementById("launch");
const launchButton = document.getElementById("launch-button");
const cancelButton = document.getElementById("cancel-button");
const bar = document.getElementById("progress");
const percent = document.getElementById("percent");
const statusLine = document.getElementById("status");
const details = document.getElementById("task");

const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
let current = null; // the task followed: {id, events}

function setStatus(text, kind) {
  statusLine.textContent = text;
  statusLine.className = kind || "muted";
}

// A problem details body (RFC 9457) as one line: its detail, or each validation error.
async function problemText(response) {
  try {
    const problem = await response.json();
    if (Array.isArray(problem.errors) && problem.errors.length) {
      return problem.errors.map((error) => `${error.loc.join(".")}: ${error.msg}`).join("; ");
    }
    return problem.detail || problem.title || response.statusText;
  } catch (error) {
    return response.statusText;
  }
}

function render(task) {
  bar.value = task.progress;
  percent.textContent = `${task.progress}%`;
  const ending = task.error ? `: ${task.error}` : "";
  setStatus(`${task.status}${ending}`, task.status === "succeeded" ? "ok" : task.status === "failed" ? "error" : "");
  details.textContent = JSON.stringify(task, null, 2);
  if (FINISHED.has(task.status)) stop();
}

function stop() {
  if (current) current.events.close();
  current = null;
  launchButton.disabled = false;
  cancelButton.disabled = true;
}

function follow(id) {
  // EventSource reconnects by itself, sending Last-Event-ID, so nothing is seen twice.
  const events = new EventSource(`../tasks/${id}/events`);
  current = { id, events };
  events.onmessage = (event) => render(JSON.parse(event.data));
  events.onerror = () => {
    if (current && current.events === events) setStatus("connection lost; reconnecting…", "error");
  };
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (current) return;
  launchButton.disabled = true;
  bar.value = 0;
  percent.textContent = "0%";
  setStatus("queueing…");
  const params = {
    steps: Number(document.getElementById("steps").value),
    delay: Number(document.getElementById("delay").value),
  };
  try {
    const response = await fetch("../tasks", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ job: "demo", params }),
    });
    if (!response.ok) {
      setStatus(`refused (${response.status}): ${await problemText(response)}`, "error");
      launchButton.disabled = false;
      return;
    }
    const task = await response.json();
    cancelButton.disabled = false;
    render(task);
    follow(task.id);
  } catch (error) {
    setStatus(`the server could not be reached: ${error.message}`, "error");
    launchButton.disabled = false;
  }
});

cancelButton.addEventListener("click", async () => {
  if (!current) return;
  cancelButton.disabled = true;
  const response = await fetch(`../tasks/${current.id}/cancel`, { method: "POST" });
  if (!response.ok) setStatus(`not cancelled (${response.status}): ${await problemText(response)}`, "error");
  // Otherwise the event stream reports the cancellation when the job stops.
});
