// The versions page: lists versions.json, then probes each version and shows
// the lifecycle headers (Deprecation, Sunset, Link) its response carries.
"use strict";

const table = document.getElementById("versions");
const statusLine = document.getElementById("status");
const LIFECYCLE_HEADERS = ["Deprecation", "Sunset", "Link"];

function cell(content, className) {
  const td = document.createElement("td");
  if (typeof content === "string") td.textContent = content;
  else td.append(content);
  if (className) td.className = className;
  return td;
}

function lifecycle(version, latest) {
  const parts = [version.status];
  if (version.name === latest) parts.push("latest");
  if (version.deprecated_at) parts.push(`deprecated ${version.deprecated_at}`);
  if (version.sunset_at) parts.push(`sunset ${version.sunset_at}`);
  return parts.join(", ");
}

async function probe(version, answer, headers) {
  try {
    const response = await fetch(`../${version.probe}`);
    answer.textContent = `${response.status} ${response.statusText}`;
    answer.className = response.ok ? "ok" : "error";
    const sent = LIFECYCLE_HEADERS.filter((name) => response.headers.has(name));
    if (!sent.length) {
      headers.textContent = "none (the version is active)";
      headers.className = "muted";
      return;
    }
    const list = document.createElement("dl");
    for (const name of sent) {
      const term = document.createElement("dt");
      term.textContent = name;
      const value = document.createElement("dd");
      value.textContent = response.headers.get(name);
      list.append(term, value);
    }
    headers.replaceChildren(list);
  } catch (error) {
    answer.textContent = `unreachable: ${error.message}`;
    answer.className = "error";
  }
}

async function load() {
  const response = await fetch("versions/versions.json");
  if (!response.ok) {
    statusLine.textContent = `The versions could not be read (${response.status}).`;
    statusLine.className = "error";
    return;
  }
  const { latest, versions } = await response.json();
  for (const version of versions) {
    const docs = document.createElement("a");
    docs.href = `../${version.docs}`;
    docs.textContent = `/${version.docs}`;
    const answer = cell("asking…", "muted");
    const headers = cell("");
    const row = document.createElement("tr");
    row.dataset.version = version.name;
    row.append(cell(version.name), cell(lifecycle(version, latest)), cell(docs), answer, headers);
    table.append(row);
    probe(version, answer, headers);
  }
}

load();
