// liqrisk dashboard: renders the API's documents (it computes nothing of its own).
"use strict";
const $ = (id) => document.getElementById(id);
const state = { doc: null, savedId: null, result: null, base: null, whatif: null, selected: null, job: null };
const DEFAULT_SCENARIO = {
  name: "dashboard-gap", assets: { BTC: { price: 91250, vol: 0.55 }, ETH: { price: 3050, vol: 0.7 } },
  shock: { kind: "linear", steps: 10, moves: { BTC: -0.12 } }, impact: { model: "sqrt", resilience: 0.1 },
  insurance_fund_usd: 5e7, population: { synthetic: { n_accounts: 2000, seed: 1 } },
  sweep: { asset: "BTC", moves: [-0.04, -0.08, -0.12], impact_scales: [1.0, 2.0], chunk_size: 1 },
};

async function api(method, path, body, raw) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.body = raw ? body : JSON.stringify(body);
    init.headers["Content-Type"] = raw ? "text/plain" : "application/json";
  }
  const r = await fetch(path, init);
  const data = r.status === 204 ? null : await r.json();
  if (!r.ok) {
    const d = data && data.detail;
    throw new Error(Array.isArray(d) ? d.map((x) => x.msg).join("\n") : (d || r.statusText));
  }
  return data;
}

function showError(e) { $("error").textContent = e ? String(e.message || e) : ""; }
const money = (x) => (x === null || x === undefined ? "—" : Math.abs(x) >= 1000
  ? x.toLocaleString("en-US", { maximumFractionDigits: 2 }) : x.toLocaleString("en-US", { maximumSignificantDigits: 6 }));
// a share in %, 3 significant digits and never in exponent form; below 0.01 % (a P(liquidation)
// of 6.6e-38) the bound "< 0.01 %", as the terminal report prints a bound below its floor; the
// cell keeps the exact number in data-value and its tooltip
const PCT_FLOOR = 1e-4;
const pct = (x) => (x === null || x === undefined ? "—" : x === 0 ? "0 %" : Math.abs(x) < PCT_FLOOR ? "< 0.01 %"
  : (100 * x).toLocaleString("en-US", { maximumSignificantDigits: 3 }) + " %");

function options() {
  const q = new URLSearchParams();
  $("horizons").value.split(",").map((h) => h.trim()).filter(Boolean).forEach((h) => q.append("horizon", h));
  q.set("paths", $("paths").value); q.set("model", $("model").value); q.set("seed", $("seed").value);
  q.set("fhs_tails", $("fhs-tails").value);
  q.set("range_paths", "0");   // the model range (other models' P) is not drawn: not computed
  q.set("curves", "true");
  return q.toString();
}

function whatIf() {
  // the changes of /v1/what-if: relative price move and absolute vol shift on every underlying, a top-up
  const price = Number($("shock-price").value) / 100, vol = Number($("shock-vol").value);
  const top = Number($("topup").value);
  const w = { shock: price ? { "*": price } : {}, vol: vol ? { "*": vol } : {}, topup: [] };
  if (top > 0 && state.selected) {
    const acc = state.result.accounts.find((a) => a.id === state.selected);
    w.topup.push({ account: state.selected, asset: acc.settlement_currency, amount: top });
  }
  return (price || vol || w.topup.length) ? w : null;
}

async function analyze() {
  if (!state.doc) return;
  showError(null);
  $("status").textContent = "analysing…";
  try {
    const w = whatIf();
    if (w) {
      state.whatif = await api("POST", "/v1/what-if?" + options().replace("curves=true", "curves=false"),
                               { portfolio: state.doc, ...w });
      state.result = state.whatif.after;
    } else {
      state.result = state.base = await api("POST", "/v1/analyze?" + options(), state.doc);
      state.whatif = null;
    }
    $("whatif-badge").hidden = !w;
    $("status").textContent = `snapshot ${state.result.as_of} · ${state.result.accounts.length} accounts` + (w ? " · what-if" : "");
    $("status").dataset.done = String(Date.now());
    render();
  } catch (e) { showError(e); $("status").textContent = "error"; }
}

function firstHorizon(a) { const p = a.probability || {}; const h = Object.keys(p)[0]; return h ? p[h] : null; }

function light(a) {
  const p = firstHorizon(a), pv = p ? p.p : 0, ratio = a.margin_ratio || 0;
  if (a.liquidatable_now || pv >= 0.05 || ratio >= 0.8) return "red";
  if (pv >= 0.005 || ratio >= 0.5) return "amber";
  return "green";
}

function nearest(a) {
  let best = null;
  for (const [u, d] of Object.entries(a.distance || {})) {
    for (const side of ["down", "up"]) {
      const v = d[side + "_pct"];
      if (v !== null && v !== undefined && (best === null || Math.abs(v) < Math.abs(best.v))) best = { u, v, side };
    }
  }
  return best ? `${best.u} ${best.v > 0 ? "+" : ""}${best.v.toFixed(1)} %` : "—";
}

function render() {
  const tbody = $("accounts").querySelector("tbody");
  tbody.innerHTML = "";
  for (const a of state.result.accounts) {
    const p = firstHorizon(a);
    const tr = document.createElement("tr");
    tr.dataset.account = a.id;
    const cells = [
      [`<span class="light ${light(a)}" data-testid="light" data-light="${light(a)}"></span>`, null],
      [a.id, null], [a.venue, null], [a.mode, null],
      [money(a.equity) + " " + a.settlement_currency, a.equity, "equity"],
      [money(a.maintenance_margin), a.maintenance_margin, "maintenance_margin"],
      [pct(a.margin_ratio), a.margin_ratio, "margin_ratio"],
      [p ? pct(p.p) : "—", p ? p.p : null, "p"],
      [nearest(a), null],
    ];
    tr.innerHTML = cells.map(([html, v, key]) =>
      `<td${key ? ` data-key="${key}" data-value="${v}" title="${v}"` : ""}>${html}</td>`).join("");
    tr.onclick = () => { state.selected = a.id; renderAccount(); };
    if (a.id === state.selected) tr.classList.add("selected");
    tbody.appendChild(tr);
  }
  $("notes").innerHTML = (state.result.notes || []).map((n) => `<li>${escape(n)}</li>`).join("");
  if (!state.selected || !state.result.accounts.some((a) => a.id === state.selected)) state.selected = state.result.accounts[0].id;
  renderAccount();
}

function escape(s) { const d = document.createElement("div"); d.textContent = s; return d.innerHTML; }

function renderAccount() {
  const a = state.result.accounts.find((x) => x.id === state.selected);
  document.querySelectorAll("#accounts tbody tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.account === a.id));
  $("account-title").textContent = `${a.id} — ${a.venue} (${a.mode}, ${a.settlement_currency})`;
  renderFacts(a);
  // ladders of the current book (a what-if shows its numbers in the table; the curves stay the book's)
  const base = (state.base && state.base.accounts.find((x) => x.id === a.id)) || a;
  const curves = ((state.base || state.result).curves || {})[a.id] || {};
  const box = $("plot-ladder");
  box.innerHTML = Object.keys(curves).length ? "" : "<p>no price-sensitive positions</p>";
  for (const [und, c] of Object.entries(curves)) {
    const div = document.createElement("div");
    box.appendChild(div);
    const traces = [];
    for (const [label, pool] of Object.entries(c.pools)) {
      traces.push({ x: c.price, y: pool.equity, name: `${label}: equity` });
      traces.push({ x: c.price, y: pool.maintenance_margin, name: `${label}: maint. margin`, line: { dash: "dash" } });
    }
    const shapes = [{ type: "line", x0: c.mark, x1: c.mark, yref: "paper", y0: 0, y1: 1, line: { dash: "dot", color: "#555" } }];
    for (const b of base.boundaries[und] || []) shapes.push({ type: "line", x0: b, x1: b, yref: "paper", y0: 0, y1: 1, line: { color: "red" } });
    Plotly.newPlot(div, traces, {
      title: { text: `Equity and maintenance margin vs ${und} (mark dotted, liquidation in red)` + (state.whatif ? " — current book" : "") },
      xaxis: { title: { text: `${und} price (USD)` } }, yaxis: { title: { text: a.settlement_currency } }, shapes,
      height: 320, margin: { l: 60, r: 10, t: 40, b: 40 } });
  }
  const ts = { ...(a.term_structure || {}), ...(a.probability || {}) };
  const hs = Object.keys(ts).sort((x, y) => hours(x) - hours(y));
  const floor = 1e-12;
  Plotly.react("plot-term", [{
    x: hs, y: hs.map((h) => Math.max(ts[h].p, floor)), type: "scatter", mode: "lines+markers",
    error_y: { type: "data", symmetric: false, array: hs.map((h) => ts[h].ci95[1] - ts[h].p),
               arrayminus: hs.map((h) => ts[h].p - Math.max(ts[h].ci95[0], floor)) } }],
    { title: { text: "P(liquidation) by horizon (95 % intervals)" }, yaxis: { type: "log", title: { text: "probability" } }, height: 320,
      margin: { l: 60, r: 10, t: 40, b: 40 } });
  const ex = (a.exit || {}).cost_vs_exit_hours || {};
  const eh = Object.keys(ex).sort((x, y) => Number(x) - Number(y));
  Plotly.react("plot-exit", [{ x: eh.map(Number), y: eh.map((h) => ex[h]), mode: "lines+markers" }],
    // from 0: a cost flat to 1e-11 USD was drawn on an axis zoomed onto its rounding noise
    { title: { text: "Exit cost vs time allowed" }, xaxis: { title: { text: "hours" } },
      yaxis: { title: { text: "USD" }, rangemode: "tozero" }, height: 320,
      margin: { l: 60, r: 10, t: 40, b: 40 } });
  renderMatrix(a);
}

function renderFacts(a) {
  // which model ran and why, and for an account already past its trigger what it costs now
  // (the JSON's exit block, USD) — as the terminal and the HTML report say it
  const parts = [];
  const info = (a.risk && a.risk.model_info) || {};
  if (a.risk) parts.push(`model ${escape(a.risk.model)}${info.why ? " — " + escape(info.why) : ""}`);
  const e = a.exit || {};
  if (a.liquidatable_now) {
    parts.push(`<span class="alert" data-key="liquidatable_now">LIQUIDATABLE NOW</span>: equity shortfall ` +
      `<span data-key="exit.equity_shortfall" data-value="${e.equity_shortfall}">${money(e.equity_shortfall)}</span>, ` +
      `forced exit now <span data-key="exit.liquidation_cost" data-value="${e.liquidation_cost}">${money(e.liquidation_cost)}</span>, ` +
      `insurance shortfall <span data-key="exit.insurance_shortfall" data-value="${e.insurance_shortfall}">` +
      `${money(e.insurance_shortfall)}</span> (USD)`);
  }
  $("account-facts").innerHTML = parts.join(" · ");
}

function renderMatrix(a) {
  // the portfolio-margin risk matrix (P&L per vol row × price move column), when the account has one
  const box = $("plot-matrix");
  box.innerHTML = "";
  const pm = a.portfolio_margin;
  for (const unit of (pm && pm.units) || []) {
    const div = document.createElement("div");
    box.appendChild(div);
    Plotly.newPlot(div, [{ type: "heatmap", z: unit.matrix, x: unit.move_labels, y: unit.vols,
      colorscale: "RdBu", reversescale: true, zmid: 0 }],   // losses red, gains blue
      { title: { text: `Risk matrix ${unit.underlying} (P&L, ${pm.currency}; worst: ${pm.worst_scenario})` },
        xaxis: { title: { text: "price move" }, type: "category" }, yaxis: { title: { text: "vol scenario" }, type: "category" },
        height: 300 });
  }
}

function hours(h) { const m = /^([\d.]+)\s*(m|min|h|d|w|y)$/.exec(h); if (!m) return 0;
  return Number(m[1]) * { m: 1 / 60, min: 1 / 60, h: 1, d: 24, w: 168, y: 8760 }[m[2]]; }

async function loadText(text) {
  showError(null);
  try { state.doc = await api("POST", "/v1/parse", text, true); state.savedId = null; state.base = null; await analyze(); }
  catch (e) { showError(e); }
}

async function refreshSaved() {
  const list = await api("GET", "/v1/portfolios");
  $("saved").innerHTML = '<option value="">—</option>' + list.map((p) => `<option value="${p.id}">${escape(p.name)} (#${p.id})</option>`).join("");
  if (state.savedId) $("saved").value = String(state.savedId);
}

async function history() {
  if (!state.savedId) { $("history-status").textContent = "save or open a portfolio to record its history"; return; }
  const runs = (await api("GET", `/v1/portfolios/${state.savedId}/runs`)).reverse();
  const h = ($("horizons").value.split(",")[0] || "1d").trim();
  const ids = [...new Set(runs.flatMap((r) => Object.keys(r.summary)))];
  Plotly.react("plot-history", ids.map((id) => ({
    x: runs.map((r) => r.created_at), y: runs.map((r) => (r.summary[id] || {})[h] ?? null), name: id, mode: "lines+markers" })),
    { title: { text: `P(liquidation within ${h}) per recorded run` }, yaxis: { type: "log", title: { text: "probability" } }, height: 320 });
  $("history-status").textContent = `${runs.length} runs recorded`;
}

let debounce = null;
function onShock() {
  $("shock-price-out").textContent = `${$("shock-price").value} %`;
  $("shock-vol-out").textContent = (Number($("shock-vol").value) >= 0 ? "+" : "") + Number($("shock-vol").value).toFixed(2);
  clearTimeout(debounce);
  debounce = setTimeout(analyze, 250);
}

async function runCascade() {
  showError(null);
  let scenario;
  try { scenario = JSON.parse($("scenario").value); } catch (e) { showError("scenario: not valid JSON: " + e.message); return; }
  try {
    const job = await api("POST", "/v1/cascade", scenario);
    state.job = job.id;
    $("cascade-status").textContent = "queued";
    pollJob(job.id);
  } catch (e) { showError(e); }
}

async function pollJob(id) {
  const j = await api("GET", `/v1/jobs/${id}`);
  $("cascade-progress").value = j.progress;
  $("cascade-status").textContent = `${j.status} ${Math.round(100 * j.progress)} %` + (j.error ? ` — ${j.error}` : "");
  if (j.status === "queued" || j.status === "running") { setTimeout(() => pollJob(id), 300); return; }
  $("cascade-status").dataset.final = j.status;
  if (j.status === "done") showCascade(j.result);
}

function showCascade(r) {
  if (r.rows) {       // a sweep: one row per (move, impact scale)
    const f = (name) => r.fields.indexOf(name);
    const total = r.rows.reduce((s, row) => s + row[f("liquidated_usd")], 0);
    $("cascade-summary").innerHTML = `<span data-key="points" data-value="${r.rows.length}">${r.rows.length} scenarios</span> · ` +
      `<span data-key="liquidated_usd" data-value="${total}">${money(total)} USD liquidated in all</span>`;
    const scales = [...new Set(r.rows.map((row) => row[f("impact_scale")]))];
    Plotly.react("plot-cascade", scales.map((s) => {
      const rows = r.rows.filter((row) => row[f("impact_scale")] === s);
      return { x: rows.map((row) => 100 * row[f("move")]), y: rows.map((row) => row[f("liquidated_usd")]),
               name: `impact × ${s}`, mode: "lines+markers" };
    }), { title: { text: `Liquidated USD vs ${r.asset} move` }, xaxis: { title: { text: "move %" } }, yaxis: { title: { text: "USD" } }, height: 320 });
  } else {
    $("cascade-summary").innerHTML = `<span data-key="liquidated_usd" data-value="${r.total_liquidated_usd}">` +
      `${money(r.total_liquidated_usd)} USD liquidated</span> · ${r.n_liquidated_accounts} accounts`;
    Plotly.react("plot-cascade", Object.entries(r.marks).map(([a, m]) => ({ y: m, name: a })),
      { title: { text: "Marks per step" }, height: 320 });
  }
}

function init() {
  $("scenario").value = JSON.stringify(DEFAULT_SCENARIO, null, 1);
  $("upload").onchange = async (ev) => { const f = ev.target.files[0]; if (f) await loadText(await f.text()); };
  $("load-paste").onclick = () => loadText($("paste").value);
  $("demo").onclick = async () => {
    showError(null);
    try { state.doc = await api("GET", "/v1/demo"); state.savedId = null; state.base = null; await analyze(); }
    catch (e) { showError(e); }
  };
  $("analyze").onclick = analyze;
  ["shock-price", "shock-vol"].forEach((id) => { $(id).oninput = onShock; });
  $("topup").onchange = analyze;
  $("whatif-reset").onclick = () => { $("shock-price").value = 0; $("shock-vol").value = 0; $("topup").value = 0; onShock(); };
  $("save").onclick = async () => {
    if (!state.doc) return;
    try {
      const p = await api("POST", "/v1/portfolios", { name: $("save-name").value || "portfolio", document: state.doc });
      state.savedId = p.id; await refreshSaved(); await history();
    } catch (e) { showError(e); }
  };
  $("open-saved").onclick = async () => {
    const id = $("saved").value; if (!id) return;
    try { const p = await api("GET", `/v1/portfolios/${id}`); state.doc = p.document; state.savedId = p.id; state.base = null; await analyze(); await history(); }
    catch (e) { showError(e); }
  };
  $("run-save").onclick = async () => {
    if (!state.savedId) { await history(); return; }
    try { await api("POST", `/v1/portfolios/${state.savedId}/runs?` + options().replace("curves=true", "curves=false")); await history(); } catch (e) { showError(e); }
  };
  $("cascade-run").onclick = runCascade;
  $("cascade-cancel").onclick = async () => { if (state.job) await api("DELETE", `/v1/jobs/${state.job}`); };
  refreshSaved().catch(showError);
}
init();
