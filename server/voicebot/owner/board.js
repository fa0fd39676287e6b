// The owner's live board: rows arrive from the event stream (/api/owner/events) as they are stored,
// highlighted and with a sound; the owner's buttons change a row's status (itself an event).
"use strict";

(() => {
  const board = JSON.parse(document.body.dataset.board);
  const live = document.getElementById("live");
  const lists = { booking: "bookings", order: "orders", message: "messages" };
  let audio = null;

  function beep() {
    if (!audio || audio.state !== "running") return;
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.4);
  }

  document.getElementById("sound").addEventListener("click", (e) => {
    // Browsers let a page play sound only after a click on it.
    audio = audio || new AudioContext();
    audio.resume();
    e.target.textContent = "Sound is on";
    beep();
  });

  function cell(row, column) {
    const td = document.createElement("td");
    td.dataset.column = column;
    const value = row[column];
    td.textContent = value === null || value === undefined ? "" : String(value);
    return td;
  }

  function buttons(kind, row) {
    const td = document.createElement("td");
    td.className = "actions";
    for (const status of (board.next[kind] || {})[row.status] || []) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.status = status;
      button.textContent = board.labels[status] || status;
      td.appendChild(button);
    }
    return td;
  }

  function render(kind, row) {
    const tr = document.createElement("tr");
    tr.dataset.id = String(row.id);
    tr.className = "status-" + (row.status || "");
    for (const column of board.columns[kind]) tr.appendChild(cell(row, column));
    if (kind === "call") {
      const td = document.createElement("td");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.call = row.id;
      button.textContent = "turns";
      td.appendChild(button);
      tr.appendChild(td);
    } else {
      tr.appendChild(buttons(kind, row));
    }
    return tr;
  }

  function upsert(kind, row) {
    const table = document.querySelector(`table[data-kind="${kind}"]`);
    if (!table) return;
    const body = table.tBodies[0];
    const empty = body.querySelector("tr.empty");
    if (empty) empty.remove();
    const fresh = render(kind, row);
    const old = body.querySelector(`tr[data-id="${CSS.escape(String(row.id))}"]`);
    if (old) old.replaceWith(fresh);
    else body.insertBefore(fresh, body.firstChild);
    fresh.classList.add("fresh");
  }

  async function refreshReport() {
    const response = await fetch("/api/owner/report", { credentials: "same-origin" });
    if (!response.ok) return;
    const report = await response.json();
    const figures = {
      "calls": report.calls.answered, "put through": report.calls.put_through,
      "bookings": report.bookings.count, "covers": report.bookings.covers,
      "orders": report.orders.count, "takeout": report.orders.revenue,
      "unanswered questions": report.unanswered_questions.length,
    };
    for (const [label, value] of Object.entries(figures)) {
      const b = document.querySelector(`[data-figure="${label}"]`);
      if (b) b.textContent = String(value);
    }
    const list = document.querySelector('[data-testid="unanswered"]');
    list.replaceChildren(...report.unanswered_questions.map((q) => {
      const li = document.createElement("li");
      li.textContent = q;
      return li;
    }));
  }

  async function showCall(id) {
    const response = await fetch(`/api/owner/calls/${encodeURIComponent(id)}`, { credentials: "same-origin" });
    const panel = document.querySelector('[data-testid="turns"]');
    if (!response.ok) {
      panel.textContent = `Could not load the call (${response.status})`;
      return;
    }
    const call = await response.json();
    const lines = call.turns.map((turn) => {
      const p = document.createElement("p");
      p.className = turn.role + (turn.unanswered ? " unanswered" : "");
      p.textContent = `${turn.at_s.toFixed(1)} s ${turn.role === "bot" ? "Bot" : "Caller"}: ${turn.text}`;
      return p;
    });
    const head = document.createElement("h3");
    head.textContent = `Call of ${call.started} (${call.channel}, ${call.outcome})`;
    panel.replaceChildren(head, ...lines);
  }

  async function setStatus(kind, id, status, button) {
    button.disabled = true;
    const response = await fetch(`/api/owner/${lists[kind]}/${id}/status`, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ status }),
    });
    if (response.ok) {
      upsert(kind, await response.json());
    } else {
      button.disabled = false;
      const problem = await response.json().catch(() => ({ detail: response.statusText }));
      alert(problem.detail);
    }
  }

  document.addEventListener("click", (e) => {
    const button = e.target.closest("button");
    if (!button) return;
    if (button.dataset.call) return void showCall(button.dataset.call);
    if (!button.dataset.status) return;
    const row = button.closest("tr");
    const kind = row.closest("table").dataset.kind;
    setStatus(kind, row.dataset.id, button.dataset.status, button);
  });

  const events = new EventSource("/api/owner/events");
  events.onopen = () => { live.textContent = "live"; live.className = "on"; };
  events.onerror = () => { live.textContent = "reconnecting…"; live.className = "off"; };
  events.onmessage = (message) => {
    const event = JSON.parse(message.data);
    const kind = event.type.split(".")[0];
    upsert(kind, event.data);
    if (event.source !== "owner") beep();
    refreshReport();
  };
})();
