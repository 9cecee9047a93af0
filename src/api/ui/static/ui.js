// The run explorer's live parts, without any library: the run page and the journey counts poll a small
// JSON endpoint of the UI every few seconds; the countdown to resumeAt ticks every second.
"use strict";

const POLL_MS = 2000;
const FINISHED = ["completed", "failed", "cancelled"];

function text(tag, content) {
  const element = document.createElement(tag);
  element.textContent = content;
  return element;
}

function badge(status) {
  const span = text("span", status.replace(/_/g, " "));
  span.className = "status status-" + status;
  return span;
}

function utc(iso) {
  return iso.replace("T", " ").replace(/(\.\d+)?(Z|\+00:00)$/, "");
}

function duration(seconds) {
  const parts = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["min", 60]]) {
    if (seconds >= size) { parts.push(Math.floor(seconds / size) + " " + unit); seconds %= size; }
  }
  if (parts.length < 2) parts.push(seconds + " s");
  return parts.slice(0, 2).join(" ");
}

function updateCountdown(run) {
  const out = document.getElementById("countdown");
  if (!out) return;
  const target = run.dataset.resumeAt;
  if (!target || run.dataset.status !== "waiting_delay") { out.textContent = ""; return; }
  const seconds = Math.max(0, Math.round((Date.parse(target) - Date.now()) / 1000));
  out.textContent = seconds > 0 ? "(in " + duration(seconds) + ")" : "(due now)";
}

function showRun(run, live) {
  run.dataset.status = live.status;
  run.dataset.resumeAt = live.resumeAt || "";
  run.dataset.version = String(live.version);
  document.getElementById("run-status").replaceChildren(badge(live.status));
  document.getElementById("run-node").textContent = live.currentNodeId || "—";
  const resume = document.getElementById("run-resume");
  if (live.status === "waiting_delay" && live.resumeAt) {
    const time = text("time", utc(live.resumeAt) + " UTC");
    time.setAttribute("datetime", live.resumeAt);
    const countdown = text("span", "");
    countdown.id = "countdown";
    resume.replaceChildren(time, " ", countdown);
  } else {
    resume.textContent = "—";
  }
  document.querySelectorAll(".graph .node").forEach((node) => {
    node.classList.toggle("current", node.dataset.node === live.currentNodeId);
  });
  const rows = document.getElementById("timeline-rows");
  for (const event of live.events) {
    const code = text("code", JSON.stringify(event.data));
    const data = document.createElement("td");
    data.append(code);
    const row = document.createElement("tr");
    row.append(text("td", String(event.version)), text("td", utc(event.recordedAt)), text("td", event.type),
      text("td", event.nodeId || "—"), data);
    rows.append(row);
  }
  updateCountdown(run);
  const cancel = document.getElementById("cancel-section");
  if (cancel && FINISHED.includes(live.status)) cancel.hidden = true;
}

async function fetchJson(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error("HTTP " + response.status);
  return response.json();
}

function followRun(run) {
  updateCountdown(run);
  setInterval(() => updateCountdown(run), 1000);
  const poll = async () => {
    try {
      const live = await fetchJson(run.dataset.live + "?after=" + run.dataset.version);
      showRun(run, live);
      if (FINISHED.includes(live.status)) return;
    } catch (error) {
      // a missed poll (network, restart) is retried on the next tick
    }
    setTimeout(poll, POLL_MS);
  };
  setTimeout(poll, POLL_MS);
}

function followCounts(section) {
  const poll = async () => {
    try {
      const counts = await fetchJson(section.dataset.live);
      document.querySelectorAll(".graph .node").forEach((node) => {
        const row = counts.nodes[node.dataset.node] || {};
        node.querySelectorAll("[data-counter]").forEach((cell) => {
          cell.textContent = String(row[cell.dataset.counter] || 0);
        });
      });
      section.querySelectorAll("[data-runs-status]").forEach((cell) => {
        cell.textContent = String(counts.runs[cell.dataset.runsStatus] || 0);
      });
    } catch (error) {
      // retried on the next tick
    }
    setTimeout(poll, POLL_MS);
  };
  setTimeout(poll, POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  const run = document.getElementById("run");
  if (run) followRun(run);
  const counts = document.getElementById("live-counts");
  if (counts) followCounts(counts);
});
