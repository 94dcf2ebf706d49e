// The host limits panel, in one file to plug in the limits of the
// politeness work when GET /v1/limits is served: until then, "no limits".
"use strict";
window.reqfleetLimits = {
  // render fills el with the limits of queue, or "no limits".
  async render(el, queue) {
    let resp;
    try {
      resp = await fetch("/v1/limits?queue=" + encodeURIComponent(queue), { credentials: "same-origin" });
    } catch (e) {
      return;
    }
    if (!resp.ok) {
      el.textContent = "no limits";
      return;
    }
    let data;
    try { data = await resp.json(); } catch (e) { el.textContent = "no limits"; return; }
    const rows = Array.isArray(data) ? data : (data.limits || []);
    if (!rows.length) { el.textContent = "no limits"; return; }
    const t = document.createElement("table");
    const keys = Object.keys(rows[0]);
    const hr = t.createTHead().insertRow();
    for (const k of keys) { const th = document.createElement("th"); th.textContent = k; hr.appendChild(th); }
    const body = t.createTBody();
    for (const r of rows) {
      const tr = body.insertRow();
      for (const k of keys) { tr.insertCell().textContent = typeof r[k] === "object" ? JSON.stringify(r[k]) : String(r[k]); }
    }
    el.replaceChildren(t);
  },
};
