// The live debugger: while a run is going, ask for the calls made since the last one shown
// (the same filter as the page) every second and append them; stop when the run has finished.
"use strict";
(function () {
  const body = document.querySelector("tbody[data-calls-live]");
  if (!body) return;
  const url = new URL(body.dataset.callsLive, window.location.href);
  const status = document.getElementById("run-status");
  const note = document.getElementById("live-note");
  let after = Number(body.dataset.after || 0);

  function cell(text, code) {
    const td = document.createElement("td");
    if (code) {
      const inner = document.createElement("code");
      inner.textContent = text;
      td.appendChild(inner);
    } else {
      td.textContent = text;
    }
    return td;
  }

  function row(call) {
    const tr = document.createElement("tr");
    tr.className = "call status-" + call.status_class;
    const first = document.createElement("td");
    const link = document.createElement("a");
    link.href = call.href;
    link.textContent = String(call.seq);
    first.appendChild(link);
    tr.appendChild(first);
    tr.appendChild(cell(call.started));
    tr.appendChild(cell(call.method));
    tr.appendChild(cell(call.path, true));
    const st = document.createElement("td");
    const code = document.createElement("span");
    code.className = "http-status";
    code.textContent = call.status;
    st.appendChild(code);
    if (call.error) {
      const err = document.createElement("span");
      err.className = "call-error";
      err.textContent = " " + call.error;
      st.appendChild(err);
    }
    tr.appendChild(st);
    tr.appendChild(cell(call.duration));
    tr.appendChild(cell(String(call.attempt)));
    tr.appendChild(cell(call.rows));
    tr.appendChild(cell(call.rate));
    return tr;
  }

  async function poll() {
    url.searchParams.set("after", String(after));
    let answer;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error("HTTP " + response.status);
      answer = await response.json();
    } catch (error) {
      window.setTimeout(poll, 3000); // the server restarting, say: try again a little later
      return;
    }
    if (answer.calls.length) {
      const empty = document.getElementById("no-calls");
      if (empty) empty.remove();
    }
    for (const call of answer.calls) {
      body.appendChild(row(call));
      after = call.seq;
    }
    if (status) {
      status.textContent = answer.status;
      status.className = "status status-" + answer.status;
    }
    if (answer.running || answer.more) {
      window.setTimeout(poll, answer.more ? 0 : 1000);
    } else if (note) {
      note.textContent = "The run has finished (" + answer.status + ").";
    }
  }

  window.setTimeout(poll, 1000);
})();
