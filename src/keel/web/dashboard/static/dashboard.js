// Keel dashboard: charts (uPlot, shipped with Keel), the lineage graph, the alias timeline and
// the actions. Pages are rendered by the server; their data sits in <script id="keel-data">.
(function () {
  "use strict";
  const base = document.body.dataset.base || "";
  const dataNode = document.getElementById("keel-data");
  const data = dataNode ? JSON.parse(dataNode.textContent) : {};

  // -- signing in and actions --------------------------------------------------------------
  // The token goes to the server once; it answers with an HttpOnly cookie, sent with every
  // later request of this dashboard (scripts never hold the token).
  const tokenForm = document.getElementById("token-form");
  const tokenInput = document.getElementById("token");
  const tokenState = document.getElementById("token-state");
  async function post(path, body) {
    const answer = await fetch(base + path, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(body || {}),
    });
    const payload = await answer.json().catch(function () { return {}; });
    return {answer: answer, payload: payload};
  }
  tokenForm.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (!tokenInput) return;
    const value = tokenInput.value.trim();
    if (!value) { tokenState.textContent = "enter a token"; return; }
    const {answer, payload} = await post("/api/session", {token: value});
    tokenInput.value = "";
    if (!answer.ok) { tokenState.textContent = payload.message || ("HTTP " + answer.status); return; }
    location.reload();
  });
  const signOut = document.getElementById("sign-out");
  if (signOut) {
    signOut.addEventListener("click", async function () {
      await post("/api/session/end");
      location.reload();
    });
  }

  function flash(text, isError) {
    const box = document.createElement("div");
    box.className = "msg" + (isError ? " error" : "");
    box.textContent = text;
    document.getElementById("flash").appendChild(box);
    setTimeout(function () { box.remove(); }, 8000);
  }

  function endpoint(button) {
    const model = encodeURIComponent(button.dataset.model || "");
    switch (button.dataset.action) {
      case "promote": return base + "/api/models/" + model + "/promote";
      case "rollback": return base + "/api/models/" + model + "/rollback";
      case "retrain": return base + "/api/models/" + model + "/retrain";
      case "acknowledge": return base + "/api/alerts/" + button.dataset.alert + "/acknowledge";
    }
    throw new Error("unknown action " + button.dataset.action);
  }

  const dialog = document.getElementById("action-dialog");
  const reasonBox = document.getElementById("action-reason");
  const dialogError = document.getElementById("action-error");
  let pending = null;
  document.querySelectorAll("button[data-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      pending = button;
      document.getElementById("action-title").textContent = button.dataset.title || button.textContent;
      document.getElementById("action-text").textContent = button.dataset.text || "";
      dialogError.textContent = "";
      reasonBox.value = "";
      dialog.showModal();
      reasonBox.focus();
    });
  });
  document.getElementById("action-confirm").addEventListener("click", async function (event) {
    event.preventDefault();
    const reason = reasonBox.value.trim();
    if (!reason) { dialogError.textContent = "Say why: the reason goes to the audit trail."; return; }
    const button = pending;
    const body = {reason: reason};
    if (button.dataset.version) body.version = Number(button.dataset.version);
    let answer, payload;
    try {
      answer = await fetch(endpoint(button), {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
      });
      payload = await answer.json().catch(function () { return {}; });
    } catch (err) {
      dialogError.textContent = "The server did not answer: " + err;
      return;
    }
    if (!answer.ok) {
      dialogError.textContent = (payload.message || ("HTTP " + answer.status)) +
        (answer.status === 401 || answer.status === 403 ? " (sign in above with a deploy or admin token)" : "");
      return;
    }
    dialog.close();
    flash((payload.action || "done").replace(/_/g, " ") + ". Reloading…", false);
    setTimeout(function () { location.reload(); }, 900);
  });

  // -- charts -----------------------------------------------------------------------------
  const COLORS = {retrain: "#7a3db8", promotion: "#0a7d32", rollback: "#b3261e", champion: "#1f5fbf"};
  function seconds(text) { return Date.parse(text) / 1000; }
  function width(el) { return Math.max(320, Math.min(1260, el.clientWidth || 1100)); }

  function eventMarkers(events) {
    return {
      hooks: {
        draw: [function (u) {
          const ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
          const [lo, hi] = [u.scales.x.min, u.scales.x.max];
          events.forEach(function (e) {
            const t = seconds(e.at);
            if (t < lo || t > hi) return;
            const x = Math.round(u.valToPos(t, "x", true));
            ctx.save();
            ctx.strokeStyle = COLORS[e.kind] || "#555";
            ctx.lineWidth = 1.5 * devicePixelRatio;
            ctx.setLineDash(e.kind === "retrain" ? [4, 3] : []);
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
            ctx.restore();
          });
        }],
      },
    };
  }

  function timeChart(id, title, series, columns, events) {
    const el = document.getElementById(id);
    if (!el) return;
    const xs = data.windows.map(function (w) { return seconds(w.end_at); });
    const opts = {
      title: title, width: width(el), height: 220,
      scales: {x: {time: true}},
      series: [{}].concat(series),
      plugins: [eventMarkers(events || [])],
    };
    el.chart = new uPlot(opts, [xs].concat(columns), el);
    el.dataset.points = String(xs.length);
  }

  function column(key) { return data.windows.map(function (w) { return w[key]; }); }

  if (data.kind === "model" && data.windows.length) {
    const events = data.events || [];
    const threshold = data.threshold;
    const accuracySeries = [
      {label: "accuracy (labels)", stroke: "#1f5fbf", width: 2, spanGaps: false},
      {label: "estimated accuracy", stroke: "#a15c00", dash: [6, 4]},
    ];
    const accuracyColumns = [column("accuracy"), column("estimated_accuracy")];
    if (threshold !== null && threshold !== undefined) {
      accuracySeries.push({label: "threshold", stroke: "#b3261e", width: 1});
      accuracyColumns.push(data.windows.map(function () { return threshold; }));
    }
    // "always the most frequent class" on each window's labelled rows: the model must beat it
    const baseline = column("baseline_accuracy");
    if (baseline.some(function (v) { return v !== null && v !== undefined; })) {
      accuracySeries.push({label: "majority baseline", stroke: "#6b6b6b", width: 1.5, dash: [2, 3]});
      accuracyColumns.push(baseline);
    }
    timeChart("chart-accuracy", "accuracy against the threshold and the majority baseline",
      accuracySeries, accuracyColumns, events);
    timeChart("chart-drift", "drifted features",
      [{label: "drifted features", stroke: "#7a3db8", width: 2}],
      [data.windows.map(function (w) { return w.drifted.length; })], events);
    timeChart("chart-latency", "latency (ms)",
      [{label: "p50", stroke: "#1f5fbf"}, {label: "p99", stroke: "#b3261e"}],
      [column("latency_p50_ms"), column("latency_p99_ms")], events);
    timeChart("chart-throughput", "throughput (predictions per second)",
      [{label: "throughput", stroke: "#0a7d32", width: 2}], [column("throughput_rps")], events);
    timeChart("chart-cost", "cost per 1,000 predictions",
      [{label: "cost / 1k", stroke: "#8a5300", width: 2}], [column("cost_per_1k")], events);
  }

  // -- which version held which alias when ------------------------------------------------
  const lanesEl = document.getElementById("alias-timeline");
  if (lanesEl && data.alias_periods && data.alias_periods.length) {
    const now = Date.now() / 1000;
    const periods = data.alias_periods.map(function (p) {
      return {alias: p.alias, version: p.version, start: seconds(p.start),
              end: p.end ? seconds(p.end) : now, by: p.moved_by, reason: p.reason};
    });
    const lo = Math.min.apply(null, periods.map(function (p) { return p.start; }));
    const hi = Math.max(now, Math.max.apply(null, periods.map(function (p) { return p.end; })));
    const span = Math.max(1, hi - lo);
    const aliases = Array.from(new Set(periods.map(function (p) { return p.alias; })));
    aliases.forEach(function (alias) {
      const lane = document.createElement("div");
      lane.className = "lane";
      const name = document.createElement("b");
      name.textContent = alias;
      lane.appendChild(name);
      periods.filter(function (p) { return p.alias === alias; }).forEach(function (p) {
        const seg = document.createElement("a");
        seg.className = "seg";
        seg.href = base + "/models/" + encodeURIComponent(data.model) + "/versions/" + p.version;
        seg.style.left = (100 * (p.start - lo) / span) + "%";
        seg.style.width = Math.max(0.4, 100 * (p.end - p.start) / span) + "%";
        seg.textContent = "v" + p.version;
        seg.title = alias + " = v" + p.version + " from " + new Date(p.start * 1000).toISOString() +
          (p.by ? " by " + p.by : "") + (p.reason ? ": " + p.reason : "");
        lane.appendChild(seg);
      });
      lanesEl.appendChild(lane);
    });
    const axis = document.createElement("div");
    axis.className = "axis";
    [lo, lo + span / 2, hi].forEach(function (t) {
      const tick = document.createElement("span");
      tick.textContent = new Date(t * 1000).toISOString().slice(0, 16).replace("T", " ");
      axis.appendChild(tick);
    });
    lanesEl.appendChild(axis);
    lanesEl.dataset.segments = String(periods.length);
  }

  // -- lineage graph ----------------------------------------------------------------------
  const lineageEl = document.getElementById("lineage");
  if (lineageEl && data.graph) {
    const NS = "http://www.w3.org/2000/svg";
    const boxW = 230, boxH = 34, colW = 290, rowH = 56, pad = 16;
    const columns = {};
    data.graph.nodes.forEach(function (n) { (columns[n.column] = columns[n.column] || []).push(n); });
    const rows = Math.max.apply(null, Object.values(columns).map(function (c) { return c.length; }));
    const at = {};
    Object.keys(columns).forEach(function (c) {
      const list = columns[c];
      const offset = (rows - list.length) * rowH / 2;
      list.forEach(function (n, i) { at[n.id] = {x: pad + Number(c) * colW, y: pad + offset + i * rowH}; });
    });
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("width", String(pad * 2 + 3 * colW + boxW));
    svg.setAttribute("height", String(pad * 2 + rows * rowH));
    svg.innerHTML = '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#98a2b3"/></marker></defs>';
    data.graph.edges.forEach(function (e) {
      const a = at[e.from], b = at[e.to];
      if (!a || !b) return;
      const path = document.createElementNS(NS, "path");
      let x1, y1, x2, y2, mid;
      if (a.x === b.x) {  // same column: straight down from one box to the next
        x1 = x2 = mid = a.x + boxW / 2; y1 = a.y + boxH; y2 = b.y;
        path.setAttribute("d", "M" + x1 + "," + y1 + " L" + x2 + "," + y2);
        mid += 30;
      } else {
        x1 = a.x + boxW; y1 = a.y + boxH / 2; x2 = b.x; y2 = b.y + boxH / 2; mid = (x1 + x2) / 2;
        path.setAttribute("d", "M" + x1 + "," + y1 + " C" + mid + "," + y1 + " " + mid + "," + y2 + " " + x2 + "," + y2);
      }
      path.setAttribute("class", "edge");
      svg.appendChild(path);
      const label = document.createElementNS(NS, "text");
      label.setAttribute("x", String(mid - 20)); label.setAttribute("y", String((y1 + y2) / 2 - 4));
      label.setAttribute("class", "edge-label"); label.textContent = e.label;
      svg.appendChild(label);
    });
    data.graph.nodes.forEach(function (n) {
      const p = at[n.id];
      const g = document.createElementNS(NS, "g");
      g.setAttribute("class", "node " + n.kind);
      g.setAttribute("data-node", n.id);
      const rect = document.createElementNS(NS, "rect");
      rect.setAttribute("x", String(p.x)); rect.setAttribute("y", String(p.y));
      rect.setAttribute("width", String(boxW)); rect.setAttribute("height", String(boxH)); rect.setAttribute("rx", "5");
      const text = document.createElementNS(NS, "text");
      text.setAttribute("x", String(p.x + 8)); text.setAttribute("y", String(p.y + 21));
      text.textContent = n.label.length > 34 ? n.label.slice(0, 33) + "…" : n.label;
      const title = document.createElementNS(NS, "title");
      title.textContent = n.label;
      g.appendChild(rect); g.appendChild(text); g.appendChild(title);
      if (n.href) {
        const link = document.createElementNS(NS, "a");
        link.setAttribute("href", n.href.replace(/^versions\//, base + "/models/" + encodeURIComponent(data.model) + "/versions/"));
        link.appendChild(g);
        svg.appendChild(link);
      } else {
        svg.appendChild(g);
      }
    });
    lineageEl.appendChild(svg);
    lineageEl.dataset.nodes = String(data.graph.nodes.length);
  }

  // -- drift overlays ---------------------------------------------------------------------
  if (data.kind === "window") {
    document.querySelectorAll("[data-feature-index]").forEach(function (el) {
      const feature = data.features[Number(el.dataset.featureIndex)];
      const h = feature.histogram;
      let xs, axisValues = null;
      if (h.edges) {
        xs = h.edges.slice(0, -1);
      } else {
        xs = h.categories.map(function (_, i) { return i; });
        axisValues = function (u, ticks) { return ticks.map(function (t) { return h.categories[t] !== undefined && Number.isInteger(t) ? String(h.categories[t]) : ""; }); };
      }
      const bars = uPlot.paths.bars ? uPlot.paths.bars({size: [0.8, 60], align: 1}) : undefined;
      const stepped = uPlot.paths.stepped ? uPlot.paths.stepped({align: 1}) : undefined;
      const shape = h.edges ? stepped : bars;
      const opts = {
        width: Math.min(560, el.clientWidth || 420), height: 170,
        scales: {x: h.edges ? {time: false} : {time: false, range: [-0.6, xs.length - 0.4]}},
        axes: [axisValues ? {values: axisValues} : {}, {}],
        series: [{}, {label: "reference", stroke: "#1f5fbf", fill: "rgba(31,95,191,0.15)", paths: shape},
                 {label: "this window", stroke: "#b3261e", fill: "rgba(179,38,30,0.15)", paths: shape}],
      };
      el.chart = new uPlot(opts, [xs, h.reference, h.current], el);
      el.dataset.points = String(xs.length);
    });
  }
})();
