// reqfleet's dashboard: polls serve's JSON routes every 1.5s and fills the
// page. Everything shown goes in as text (textContent), never as HTML.
"use strict";
(function () {
  const POLL_MS = 1500;
  const $ = (id) => document.getElementById(id);
  const state = {
    queue: $("queue").value,
    cursors: [""],          // batch pages: cursors of the pages shown so far; the last is the current one
    next: "",               // the next page's cursor
    rates: {},              // batch id -> {done, t, rate}
    view: null,             // the outcomes panel: {kind, batch, type, offsets: [..]}
  };

  async function get(path) {
    const resp = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok && resp.status !== 404) throw new Error(data.error || resp.status);
    return data;
  }
  const q = () => "queue=" + encodeURIComponent(state.queue);
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
  const num = (n) => (n === undefined || n === null) ? "" : Number(n).toLocaleString("en");
  const when = (s) => { if (!s) return ""; const d = new Date(s); return isNaN(d) || d.getFullYear() < 2000 ? "" : d.toLocaleString(); };
  const secs = (s) => { if (s === null || s === undefined || !isFinite(s)) return ""; s = Math.round(s); return s < 90 ? s + "s" : s < 5400 ? Math.round(s / 60) + "m" : Math.round(s / 3600) + "h"; };
  function cell(tr, v, cls) { const td = tr.insertCell(); if (v instanceof Node) td.appendChild(v); else td.textContent = v; if (cls) td.className = cls; return td; }
  function chips(obj, cls, onclick) {
    const span = el("span");
    for (const [k, v] of Object.entries(obj || {}).sort((a, b) => b[1] - a[1])) {
      const c = el(onclick ? "button" : "span", k + ": " + num(v), "chip" + (cls ? " " + cls : ""));
      c.dataset.key = k;
      if (onclick) c.addEventListener("click", () => onclick(k));
      span.appendChild(c);
    }
    return span;
  }

  // ---- queue stats
  async function stats() {
    const s = await get("/v1/stats");
    const qs = (s.queues || []).find((x) => x.queue === state.queue) || {};
    const cards = [["pending", qs.pending], ["in flight", qs.active], ["results", qs.results], ["exceptions", qs.exceptions],
      ["retrying", qs.retrying], ["processed today", qs.processed_today], ["failed today", qs.failed_today],
      ["workers", s.workers], ["sessions busy", num(s.busy) + " / " + num(s.sessions)]];
    $("stats").replaceChildren(...cards.map(([k, v]) => { const c = el("div", undefined, "card"); c.dataset.stat = k; c.append(el("b", typeof v === "string" ? v : num(v || 0)), el("span", k)); return c; }));
  }

  // ---- batches
  function rate(b) {
    const now = Date.now(), prev = state.rates[b.batch];
    let r = b.rate || 0;
    if (prev && now > prev.t && b.done >= prev.done) {
      const inst = (b.done - prev.done) * 1000 / (now - prev.t);
      r = prev.rate === undefined ? inst : 0.5 * prev.rate + 0.5 * inst;
    }
    state.rates[b.batch] = { done: b.done, t: now, rate: r };
    return r;
  }
  async function batches() {
    const cur = state.cursors[state.cursors.length - 1];
    const page = await get("/v1/batches?" + q() + "&limit=20" + (cur ? "&cursor=" + encodeURIComponent(cur) : ""));
    state.next = page.next_cursor || "";
    $("batches-older").disabled = !state.next;
    $("batches-newer").disabled = state.cursors.length <= 1;
    const body = $("batches").tBodies[0];
    const rows = [];
    for (const b of page.batches || []) {
      const tr = document.createElement("tr");
      tr.dataset.batch = b.batch;
      cell(tr, b.batch, "id");
      cell(tr, when(b.created));
      const prog = el("div");
      const bar = el("div", undefined, "bar"); const fill = el("i");
      fill.style.width = (b.expected ? Math.min(100, 100 * b.done / b.expected) : 0) + "%";
      bar.appendChild(fill);
      prog.append(bar, el("span", num(b.done) + "/" + num(b.expected) + (b.sealed ? "" : " (enqueuing)") + (b.complete ? " done" : ""), "progress"));
      cell(tr, prog);
      const r = b.complete ? 0 : rate(b);
      cell(tr, r ? r.toFixed(1) + "/s" : "", "num rate");
      cell(tr, b.complete ? "" : r ? secs((b.expected - b.done) / r) : "", "num eta");
      cell(tr, chips(b.by_status));
      cell(tr, chips(b.by_type, "exc", (typ) => openView({ kind: "exceptions", batch: b.batch, type: typ })));
      const acts = el("span");
      const ex = el("button", "Exceptions", "show-exceptions"); ex.addEventListener("click", () => openView({ kind: "exceptions", batch: b.batch }));
      const rs = el("button", "Results", "show-results"); rs.addEventListener("click", () => openView({ kind: "results", batch: b.batch }));
      acts.append(ex, " ", rs);
      cell(tr, acts);
      rows.push(tr);
    }
    body.replaceChildren(...rows);
  }
  $("batches-older").addEventListener("click", () => { if (state.next) { state.cursors.push(state.next); refresh(); } });
  $("batches-newer").addEventListener("click", () => { state.cursors = [""]; refresh(); });

  // ---- outcomes panel (a batch's exceptions or results)
  function openView(v) {
    state.view = { kind: v.kind, batch: v.batch || "", type: v.type || "", offsets: [0] };
    $("outcomes-section").hidden = false;
    $("retry-result").textContent = "";
    outcomes().catch(down);
    $("outcomes-section").scrollIntoView({ block: "nearest" });
  }
  function viewQuery(v) {
    return q() + "&kind=" + v.kind + (v.batch ? "&batch=" + encodeURIComponent(v.batch) : "") + (v.type ? "&type=" + encodeURIComponent(v.type) : "");
  }
  async function outcomes() {
    const v = state.view;
    if (!v) return;
    const off = v.offsets[v.offsets.length - 1];
    const page = await get("/dashboard/outcomes?" + viewQuery(v) + "&offset=" + off + "&limit=50");
    if (state.view !== v) return;
    v.next = page.next_offset; v.end = page.end;
    $("outcomes-title").textContent = (v.kind === "exceptions" ? "Exceptions" : "Results") + (v.batch ? " of batch " + v.batch : "") + (v.type ? ", " + v.type : "");
    $("outcomes-download").href = "/dashboard/outcomes.jsonl?" + viewQuery(v);
    const exc = v.kind === "exceptions";
    $("retry-type").hidden = !(exc && v.type);
    $("retry-type").textContent = "Retry " + (v.type || "this type") + (v.batch ? " of this batch" : "");
    $("retry-batch").hidden = !(exc && v.batch);
    $("retry-all").hidden = !exc;
    $("outcomes-next").disabled = v.end;
    $("outcomes-first").disabled = v.offsets.length <= 1;
    $("outcomes-count").textContent = page.items.length + " shown" + (page.end ? "" : ", more after");
    const rows = page.items.map((o) => {
      const tr = document.createElement("tr");
      tr.className = "outcome"; tr.dataset.id = o.id || "";
      cell(tr, o.id || ""); cell(tr, o.batch || ""); cell(tr, String(o.attempt || ""), "num");
      if (o.exception) {
        cell(tr, o.exception.type, "type"); cell(tr, o.exception.message, "msg");
      } else {
        cell(tr, String(o.status_code) + (o.reason ? " " + o.reason : ""), "status");
        cell(tr, (o.body || "").slice(0, 200) + (o.body_cut || (o.body || "").length > 200 ? "…" : ""), "msg");
      }
      cell(tr, (o.request && o.request.url) || "", "msg");
      cell(tr, when(o.finished_at));
      return tr;
    });
    $("outcomes").tBodies[0].replaceChildren(...rows);
  }
  $("outcomes-next").addEventListener("click", () => { const v = state.view; if (v && !v.end) { v.offsets.push(v.next); outcomes().catch(down); } });
  $("outcomes-first").addEventListener("click", () => { const v = state.view; if (v) { v.offsets = [0]; outcomes().catch(down); } });
  $("outcomes-close").addEventListener("click", () => { state.view = null; $("outcomes-section").hidden = true; });

  async function retry(body) {
    const out = $("retry-result");
    out.textContent = "retrying…";
    try {
      const resp = await fetch("/v1/retry?" + q(), { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      const data = await resp.json().catch(() => ({}));
      out.textContent = resp.ok ? "retried " + data.retried + (data.recovered ? ", recovered " + data.recovered : "") : "retry failed: " + (data.error || resp.status);
      out.dataset.retried = resp.ok ? String(data.retried) : "";
    } catch (e) {
      out.textContent = "retry failed: " + e.message;
    }
    refresh();
  }
  $("retry-type").addEventListener("click", () => { const v = state.view; if (v) retry(v.batch ? { type: v.type, batch: v.batch } : { type: v.type }); });
  $("retry-batch").addEventListener("click", () => { const v = state.view; if (v) retry({ batch: v.batch }); });
  $("retry-all").addEventListener("click", () => { if (confirm("Retry every exception of queue " + state.queue + "?")) retry({ all: true }); });

  // ---- hosts and workers
  async function hosts() {
    const h = await get("/v1/hosts?" + q());
    $("hosts").tBodies[0].replaceChildren(...(h.hosts || []).slice(0, 100).map((x) => {
      const tr = document.createElement("tr"); tr.dataset.host = x.host;
      cell(tr, x.host); cell(tr, num(x.responses), "num"); cell(tr, num(x.exceptions), "num");
      cell(tr, chips(x.by_status)); cell(tr, chips(x.by_type));
      return tr;
    }));
  }
  async function workers() {
    const w = await get("/v1/workers");
    $("workers").tBodies[0].replaceChildren(...(w.workers || []).map((x) => {
      const tr = document.createElement("tr"); tr.dataset.worker = x.name;
      cell(tr, x.name); cell(tr, x.mode + (x.shards ? " (" + x.shards + " shards)" : ""));
      cell(tr, num(x.sessions), "num"); cell(tr, num(x.busy), "num busy"); cell(tr, num(x.done), "num done"); cell(tr, when(x.started));
      return tr;
    }));
  }

  // ---- lookup by job id
  $("lookup-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const id = $("lookup-id").value.trim();
    if (!id) return;
    $("lookup-section").hidden = false;
    $("lookup-title").textContent = id;
    try {
      // GET /v1/jobs/{id}'s lookup, its outcome redacted: the job's state,
      // batch, latest attempt and, once done, its outcome; else /v1's error.
      const r = await get("/dashboard/lookup?" + q() + "&id=" + encodeURIComponent(id));
      $("lookup-result").textContent = r.state ? JSON.stringify(r, null, 2) : (r.error || "no job " + id + " in queue " + state.queue);
    } catch (e) {
      $("lookup-result").textContent = "lookup failed: " + e.message;
    }
  });
  $("lookup-close").addEventListener("click", () => { $("lookup-section").hidden = true; });

  $("queue").addEventListener("change", () => {
    state.queue = $("queue").value; state.cursors = [""]; state.rates = {}; state.view = null;
    $("outcomes-section").hidden = true; refresh(); limits();
  });

  function down(e) { $("live").textContent = "offline: " + e.message; $("live").className = "live down"; }
  let busy = false;
  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      await Promise.all([stats(), batches(), hosts(), workers(), outcomes()]);
      $("live").textContent = "live " + new Date().toLocaleTimeString(); $("live").className = "live";
    } catch (e) {
      down(e);
    } finally {
      busy = false;
    }
  }
  function limits() { window.reqfleetLimits.render($("limits"), state.queue); }
  refresh(); limits();
  setInterval(refresh, POLL_MS);
  setInterval(limits, 10 * POLL_MS);
})();
