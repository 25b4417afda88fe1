// The export page: a CSV download link that follows the filters, and the NDJSON
// export read with the Streams API, one table row per line as it arrives.
"use strict";

const q = document.getElementById("q");
const limit = document.getElementById("limit");
const csv = document.getElementById("csv");
const watch = document.getElementById("watch");
const stopButton = document.getElementById("stop");
const statusLine = document.getElementById("status");
const head = document.getElementById("head");
const rows = document.getElementById("rows");

let reading = null; // the AbortController of the NDJSON export being read

function query() {
  const params = new URLSearchParams();
  if (q.value) params.set("q", q.value);
  if (limit.value) params.set("limit", limit.value);
  const text = params.toString();
  return text ? `?${text}` : "";
}

function setStatus(text, kind) {
  statusLine.textContent = text;
  statusLine.className = kind || "muted";
}

function row(cells, tag) {
  const tr = document.createElement("tr");
  for (const value of cells) {
    const cell = document.createElement(tag);
    cell.textContent = value === null ? "" : String(value);
    tr.append(cell);
  }
  return tr;
}

function addLine(text, state) {
  if (!text.trim()) return;
  const item = JSON.parse(text);
  if ("error" in item && "rows_sent" in item) {
    // The export failed part-way: the server's last line says so.
    state.failure = `export failed after ${item.rows_sent} rows: ${item.error}`;
    return;
  }
  if (!state.columns) {
    state.columns = Object.keys(item);
    head.replaceChildren(row(state.columns, "th"));
  }
  rows.append(row(state.columns.map((name) => item[name]), "td"));
  state.count += 1;
}

async function stream() {
  reading = new AbortController();
  watch.disabled = true;
  stopButton.disabled = false;
  head.replaceChildren();
  rows.replaceChildren();
  setStatus("streaming…");
  const state = { columns: null, count: 0, failure: null };
  try {
    const response = await fetch(`../exports/items.ndjson${query()}`, { signal: reading.signal });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      setStatus(`refused (${response.status}): ${problem.detail || response.statusText}`, "error");
      return;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let pending = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += value;
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const text of lines) addLine(text, state);
      setStatus(`${state.count} rows so far…`);
    }
    addLine(pending, state);
    if (state.failure) setStatus(state.failure, "error");
    else setStatus(`${state.count} rows`, "ok");
  } catch (error) {
    setStatus(error.name === "AbortError" ? `stopped after ${state.count} rows` : error.message, "error");
  } finally {
    reading = null;
    watch.disabled = false;
    stopButton.disabled = true;
  }
}

function updateLink() {
  csv.href = `../exports/items.csv${query()}`;
}

q.addEventListener("input", updateLink);
limit.addEventListener("input", updateLink);
watch.addEventListener("click", stream);
stopButton.addEventListener("click", () => reading && reading.abort());
updateLink();
