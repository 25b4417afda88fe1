// The upload page: POST /files with the file picked or dropped; shows the stored
// file, or the problem details (RFC 9457) the server refused it with.
"use strict";

const form = document.getElementById("upload");
const drop = document.getElementById("drop");
const input = document.getElementById("file");
const button = document.getElementById("upload-button");
const result = document.getElementById("result");
const table = document.getElementById("files");

function paragraph(text, className) {
  const p = document.createElement("p");
  p.textContent = text;
  if (className) p.className = className;
  return p;
}

function showProblem(status, problem) {
  const parts = [paragraph(`Refused: ${status} ${problem.title || ""}`, "error")];
  if (problem.detail) parts.push(paragraph(problem.detail, "error problem-detail"));
  for (const error of problem.errors || []) {
    parts.push(paragraph(`${error.loc.join(".")}: ${error.msg}`, "error"));
  }
  result.replaceChildren(...parts);
}

async function listFiles() {
  const response = await fetch("../files?limit=20");
  if (!response.ok) return;
  const page = await response.json();
  table.replaceChildren(
    ...page.items.map((file) => {
      const row = document.createElement("tr");
      for (const value of [file.filename, file.content_type, file.size, file.created_at]) {
        const cell = document.createElement("td");
        cell.textContent = String(value);
        row.append(cell);
      }
      return row;
    }),
  );
}

async function upload(file) {
  button.disabled = true;
  result.replaceChildren(paragraph(`Uploading ${file.name}…`, "muted"));
  const body = new FormData();
  body.append("file", file, file.name);
  try {
    const response = await fetch("../files", { method: "POST", body });
    if (response.ok) {
      const stored = await response.json();
      result.replaceChildren(
        paragraph(`Stored ${stored.filename} (${stored.content_type}, ${stored.size} bytes)`, "ok"),
        paragraph(`sha256 ${stored.sha256}`, "muted"),
      );
      listFiles();
    } else {
      let problem = { title: response.statusText };
      try {
        problem = await response.json();
      } catch (error) {
        // Not JSON (a proxy's page): the status says enough.
      }
      showProblem(response.status, problem);
    }
  } catch (error) {
    result.replaceChildren(paragraph(`The upload failed: ${error.message}`, "error"));
  } finally {
    button.disabled = false;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (input.files.length) upload(input.files[0]);
});

for (const name of ["dragenter", "dragover"]) {
  drop.addEventListener(name, (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
}
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  const [file] = event.dataTransfer.files;
  if (file) {
    input.files = event.dataTransfer.files;
    upload(file);
  }
});

listFiles();
