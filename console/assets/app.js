// edgegate console: plain JavaScript, no framework, no build step. Every
// request goes to this page's own origin (the admin listener); the CSP
// forbids anything else. Views are shown by the URL hash: #explain?...
"use strict";
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // el("li", {class: "x", title: "t"}, child, "text", ...)
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids.flat()) {
      if (k === undefined || k === null || k === false) continue;
      e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }

  async function getJSON(url, opts) {
    const r = await fetch(url, Object.assign({ headers: { Accept: "application/json" } }, opts || {}));
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok && !(opts && opts.allowError)) {
      throw new Error((body && body.error) || r.status + " " + r.statusText);
    }
    return { status: r.status, body: body };
  }

  function fmtDur(s) {
    if (s === null || s === undefined || !isFinite(s)) return "–";
    if (s < 0.001) return (s * 1e6).toFixed(0) + " µs";
    if (s < 1) return (s * 1e3).toFixed(s < 0.01 ? 2 : 1) + " ms";
    return s.toFixed(2) + " s";
  }
  function fmtBytes(n) {
    if (n === null || n === undefined) return "–";
    if (n < 1024) return n + " B";
    if (n < 1 << 20) return (n / 1024).toFixed(1) + " KiB";
    if (n < 1 << 30) return (n / (1 << 20)).toFixed(1) + " MiB";
    return (n / (1 << 30)).toFixed(2) + " GiB";
  }
  function fmtTime(t) { return t ? t.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC") : "–"; }

  // ---- views and the hash ----
  const views = ["explain", "rules", "geo", "live", "images"];
  let current = "";
  function parseHash() {
    const h = location.hash.replace(/^#/, "");
    const i = h.indexOf("?");
    const name = i < 0 ? h : h.slice(0, i);
    return { view: views.includes(name) ? name : "explain", params: new URLSearchParams(i < 0 ? "" : h.slice(i + 1)) };
  }
  function show() {
    const { view, params } = parseHash();
    for (const v of views) $("#view-" + v).hidden = v !== view;
    for (const a of $$("#nav a")) a.classList.toggle("active", a.dataset.view === view);
    const entering = view !== current;
    current = view;
    stopLive();
    if (view === "explain") explainFromHash(params);
    else if (view === "rules" && entering) loadRules();
    else if (view === "geo" && entering) loadGeo();
    else if (view === "live") startLive();
    else if (view === "images" && entering) loadImages();
  }

  // ---- shared: rules version and region list ----
  let table = null;
  async function loadTable() {
    const { body } = await getJSON("/debug/rules/table");
    table = body;
    $("#rulesver").textContent = "rules " + body.version.slice(0, 12);
    for (const sel of [$("#explain-form select[name=region]"), $("#images-form select[name=region]")]) {
      const keep = sel.value;
      while (sel.options.length > 1) sel.remove(1);
      for (const r of body.regions) sel.append(el("option", { value: r.name }, r.name));
      sel.value = keep;
    }
    return body;
  }

  // ---- Explain ----
  const ef = $("#explain-form");
  function explainParams() {
    const p = new URLSearchParams();
    p.set("key", ef.key.value.trim());
    if (ef.ip.value.trim()) p.set("ip", ef.ip.value.trim());
    if (ef.region.value) p.set("region", ef.region.value);
    for (const line of ef.headers.value.split("\n")) if (line.trim()) p.append("header", line.trim());
    return p;
  }
  ef.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const h = "#explain?" + explainParams().toString();
    if (location.hash === h) runExplain(); else location.hash = h;
  });
  async function explainFromHash(params) {
    if (!params.has("key")) { $("#explain-link").href = "#explain?" + explainParams(); return; }
    ef.key.value = params.get("key");
    ef.ip.value = params.get("ip") || "";
    if (params.get("region") && !$$("option", ef.region).some((o) => o.value === params.get("region"))) {
      ef.region.append(el("option", { value: params.get("region") }, params.get("region")));
    }
    ef.region.value = params.get("region") || "";
    ef.headers.value = params.getAll("header").join("\n");
    await runExplain();
  }
  async function runExplain() {
    const p = explainParams();
    $("#explain-link").href = "#explain?" + p;
    const err = $("#explain-error");
    const out = clear($("#explain-path"));
    err.hidden = true;
    let r;
    try {
      r = await getJSON("/debug/explain?" + p, { allowError: true });
    } catch (e) { err.textContent = e.message; err.hidden = false; return; }
    if (r.status !== 200) { err.textContent = (r.body && r.body.error) || "error " + r.status; err.hidden = false; return; }
    drawExplain(out, r.body);
  }
  function step(cls, title, ...body) {
    return el("li", { class: "step " + (cls || "") }, el("div", { class: "step-title" }, title), el("div", { class: "step-body" }, ...body));
  }
  function loc(l) {
    if (!l) return "unknown";
    return [l.city, l.subdivision, l.country, l.continent].filter(Boolean).join(", ");
  }
  function drawExplain(out, x) {
    out.dataset.region = x.region || "";
    out.append(step("", "Client IP",
      x.client_ip ? el("code", {}, x.client_ip) : el("span", { class: "muted" }, "none"),
      x.client_ip_source ? el("span", { class: "tag" }, "from " + x.client_ip_source) : null,
      x.peer && x.peer !== x.client_ip ? el("span", { class: "muted" }, " (peer " + x.peer + ")") : null));
    const locs = [];
    if (x.header_location) locs.push(el("div", {}, el("span", { class: "tag" }, "CDN header"), " ", loc(x.header_location)));
    if (x.geoip_location) locs.push(el("div", {}, el("span", { class: "tag" }, "GeoIP"), " ", loc(x.geoip_location),
      x.geoip_database ? el("span", { class: "muted" }, " — " + x.geoip_database.split("/").pop()) : null));
    out.append(step("", "Location", locs.length ? locs : el("span", { class: "muted" }, "no location")));
    const cands = el("ul", { class: "cands" });
    for (const c of x.region_candidates || []) {
      const chosen = c.region && c.region === x.region && c.source === x.region_source;
      cands.append(el("li", { class: chosen ? "chosen" : c.region ? "" : "miss" },
        el("span", { class: "tag" }, c.source), " ", c.region ? el("b", {}, c.region) : el("span", { class: "muted" }, "no region"),
        el("span", { class: "muted" }, " — " + c.detail)));
    }
    out.append(step("", "Region", el("div", {}, x.region ? el("b", { class: "region" }, x.region) : el("span", { class: "muted" }, "none"),
      x.region_source ? el("span", { class: "tag" }, "by " + x.region_source) : null), cands));
    const routes = el("ul", { class: "cands" });
    for (const r of x.routes_tried || []) {
      routes.append(el("li", { class: r.matched ? "chosen" : "miss" }, el("b", {}, r.name), " ", el("code", {}, r.match),
        el("span", { class: "muted" }, r.matched ? " — matched" : " — no match")));
    }
    out.append(step("", "Route", x.rule ? el("div", {}, el("b", {}, x.rule)) : null, routes));
    const pre = el("ul", { class: "prefixes" });
    for (const f of x.prefixes || []) {
      let state = "not checked", cls = "skip";
      if (f.error) { state = "error: " + f.error; cls = "bad"; }
      else if (f.checked && f.exists) { state = "exists"; cls = "ok"; }
      else if (f.checked) { state = "missing"; cls = "miss"; }
      else if (!f.checked && x.object_key === f.prefix + x.key) { state = "used (no existence check)"; cls = "ok"; }
      pre.append(el("li", { class: "prefix " + cls, "data-prefix": f.prefix },
        el("code", {}, f.prefix + x.key), " ", el("span", { class: "tag" }, state), f.cached ? el("span", { class: "muted" }, " (cached)") : null));
    }
    out.append(step("", "Prefixes tried", (x.prefixes || []).length ? pre : el("span", { class: "muted" }, "none")));
    if (x.image_policy) out.append(imagePolicyStep(x.image_policy));
    const ok = x.status < 400;
    out.append(step(ok ? "final ok" : "final bad", ok ? "Delivery" : "Answer " + x.status,
      x.error ? el("div", { class: "error-text" }, x.error) : null,
      x.bucket ? el("div", {}, "s3://" + x.bucket + "/", el("b", {}, x.object_key || "")) : null,
      x.delivery && ok ? el("div", {}, el("span", { class: "tag" }, x.delivery),
        x.delivery === "cdn" ? " redirect (302) to the CDN URL" : " redirect (302) to a presigned URL") : null,
      el("div", { class: "muted" }, "rules " + (x.rules_hash || "").slice(0, 12))));
  }

  // The /img/ policy of the region and route, each field with where it
  // came from (a region of the chain, the route, or images: defaults).
  function imagePolicyStep(p) {
    const from = (f) => f ? el("span", { class: "muted" }, " — " + f) : null;
    const rows = el("ul", { class: "policy" });
    const row = (name, value, f) => rows.append(el("li", { "data-field": name }, el("span", { class: "tag" }, name), " ", el("b", {}, String(value)), from(f)));
    for (const [fmt, q] of Object.entries(p.quality || {})) row("quality " + fmt, q, (p.quality_from || {})[fmt]);
    if ((p.formats || []).length) row("formats", p.formats.join(", "), p.formats_from);
    row("max DPR", p.max_dpr, p.max_dpr_from);
    row("Save-Data", p.save_data, p.save_data_from);
    row("client hints", p.client_hints, p.client_hints_from);
    if (p.hints) {
      const h = p.hints;
      const parts = [h.dpr ? "DPR " + h.dpr : null, h.width ? "width " + h.width : null, h.save_data ? "Save-Data" : null,
        h.lighter ? "lighter" : null].filter(Boolean);
      row("hints sent", parts.length ? parts.join(", ") : "none", "");
    }
    if (p.varies_by_region) rows.append(el("li", { class: "muted" }, "regions differ on this route: an answer whose region came from the address is private"));
    return step("", "Image policy (/img/)", rows);
  }

  // ---- Rules ----
  async function loadRules() {
    const [tb, src] = await Promise.all([loadTable(), getJSON("/debug/rules/source")]);
    const s = src.body;
    const meta = clear($("#rules-meta"));
    for (const [k, v] of [["version", s.version], ["loaded at", fmtTime(s.loaded_at)], ["file", s.path],
      ["reloads", s.reloads + " ok, " + s.failures + " failed"]]) meta.append(el("dt", {}, k), el("dd", {}, v));
    const err = $("#rules-error");
    clear(err);
    err.hidden = !s.last_error;
    if (s.last_error) {
      err.append(el("b", {}, "The last reload failed (" + fmtTime(s.last_error_at) + "); the rules above keep serving:"),
        el("pre", {}, s.last_error));
    }
    // regions: each region's fallback chain as a tree rooted at chain ends
    const tree = clear($("#rules-tree"));
    const kids = {};
    for (const r of tb.regions) (kids[r.fallback || ""] = kids[r.fallback || ""] || []).push(r);
    const node = (r) => {
      const crit = ["country", "subdivision", "city", "continent"].filter((k) => r[k] && r[k].length)
        .map((k) => k + " " + r[k].join("|")).join(", ");
      const li = el("li", { "data-region": r.name }, el("b", {}, r.name), " ", el("code", {}, r.prefix || "(no prefix)"),
        r.name === tb.default_region ? el("span", { class: "tag" }, "default") : null,
        el("span", { class: "muted" }, " " + (crit || "by name only") + " · line " + r.line));
      const ks = kids[r.name] || [];
      if (ks.length) li.append(el("ul", {}, ks.map(node)));
      return li;
    };
    for (const r of kids[""] || []) tree.append(node(r));
    const tbody = clear($("#rules-routes tbody"));
    tb.routes.forEach((r, i) => tbody.append(el("tr", {}, el("td", {}, i + 1), el("td", {}, r.name), el("td", {}, el("code", {}, r.match)),
      el("td", {}, r.bucket), el("td", {}, r.delivery), el("td", {}, r.ttl), el("td", {}, r.fallback_exists ? "exists" : "first"), el("td", {}, r.line))));
    $("#rules-path").textContent = s.path;
    drawSource($("#rules-source"), s.text, s.problems || []);
    rulesText = s.text;
  }
  let rulesText = "";
  function drawSource(pre, text, problems) {
    clear(pre);
    const byLine = {};
    for (const p of problems) (byLine[p.line] = byLine[p.line] || []).push(p);
    text.split("\n").forEach((line, i) => {
      const n = i + 1;
      const ps = byLine[n];
      const row = el("span", { class: "line" + (ps ? " bad" : ""), id: "L" + n, "data-line": n }, el("span", { class: "ln" }, n), line);
      pre.append(row);
      if (ps) for (const p of ps) pre.append(el("span", { class: "problem" }, " ".repeat(Math.max(0, p.col - 1)) + "^ " + p.line + ":" + p.col + ": " + p.msg));
    });
    const first = pre.querySelector(".bad");
    if (first) first.scrollIntoView({ block: "nearest" });
  }
  const tokenInput = $("#token");
  tokenInput.value = sessionStorage.getItem("edgegate-token") || "";
  tokenInput.addEventListener("change", () => sessionStorage.setItem("edgegate-token", tokenInput.value));
  $("#draft-copy").addEventListener("click", () => { $("#draft").value = rulesText; });
  $("#draft-check").addEventListener("click", async () => {
    const out = clear($("#draft-result"));
    const headers = { "Content-Type": "application/yaml", Accept: "application/json" };
    if (tokenInput.value) headers.Authorization = "Bearer " + tokenInput.value;
    let r;
    try {
      r = await getJSON("/debug/rules/check", { method: "POST", body: $("#draft").value, headers: headers, allowError: true });
    } catch (e) { out.append(el("p", { class: "error" }, e.message)); return; }
    const b = r.body || {};
    if (r.status === 200 && b.ok === true) {
      out.append(el("p", { class: "good" }, "Valid: " + b.regions + " regions, " + b.routes + " routes, version " + b.version.slice(0, 12) + ". Nothing was loaded."));
    } else if (b.problems) {
      out.append(el("p", { class: "error" }, b.problems.length + " problem(s):"));
      const pre = el("pre", { class: "source" });
      out.append(pre);
      drawSource(pre, $("#draft").value, b.problems);
    } else {
      out.append(el("p", { class: "error" }, b.error || "error " + r.status));
    }
  });

  // ---- GeoIP ----
  let mapLoaded = false;
  async function loadGeo() {
    const { body: g } = await getJSON("/debug/geo");
    const tbody = clear($("#geo-dbs tbody"));
    for (const f of g.files || []) tbody.append(el("tr", {}, el("td", {}, f.path.split("/").pop()), el("td", {}, f.database_type + " IPv" + f.ip_version),
      el("td", {}, fmtTime(f.build_time)), el("td", {}, fmtTime(g.loaded_at))));
    if (!(g.files || []).length) tbody.append(el("tr", {}, el("td", { colspan: 4, class: "muted" }, "no GeoIP databases configured (geo.databases)")));
    $("#geo-status").textContent = g.reloads + " reloads, " + g.reload_failures + " failed" + (g.last_error ? "; last error: " + g.last_error : "");
    if (!mapLoaded) {
      const r = await fetch(mapURL());
      const svg = new DOMParser().parseFromString(await r.text(), "image/svg+xml").documentElement;
      $("#map").append(document.importNode(svg, true));
      mapLoaded = true;
      $("#map svg").addEventListener("click", (ev) => {
        const p = ev.target.closest("path");
        if (p) pickCountry(p.dataset.cc);
      });
    }
    await colourMap();
  }
  // world.svg's hashed name, written into the page by the server
  function mapURL() { return $("meta[name=map]").content; }
  const palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
    "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#17becf"];
  let geoMap = null;
  async function colourMap() {
    const { body } = await getJSON("/debug/geo/map");
    geoMap = body;
    const colour = {};
    body.regions.forEach((r, i) => { colour[r] = palette[i % palette.length]; });
    for (const p of $$("#map path")) {
      const c = body.countries[p.dataset.cc];
      p.setAttribute("fill", c && c.region ? colour[c.region] : "#ddd");
      p.dataset.region = c ? c.region : "";
    }
    const legend = clear($("#map-legend"));
    const used = new Set(Object.values(body.countries).map((c) => c.region));
    for (const r of body.regions) {
      if (!used.has(r)) continue;
      const sw = el("span", { class: "swatch" });
      sw.style.background = colour[r];
      legend.append(el("li", {}, sw, r, r === body.default_region ? " (default)" : ""));
    }
  }
  function pickCountry(cc) {
    const c = geoMap && geoMap.countries[cc];
    const name = ($("#c-" + cc + " title") || {}).textContent || cc;
    $("#map-pick").textContent = c ? name + " → " + c.region + (c.cities && c.cities.length ? "; cities with their own region: " + c.cities.join(", ") : "") : name;
  }
  $("#geo-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const out = clear($("#geo-result"));
    const ip = ev.target.ip.value.trim();
    const r = await getJSON("/debug/explain?" + new URLSearchParams({ key: "geo-lookup", ip: ip }), { allowError: true });
    if (r.status !== 200) { out.append(el("li", { class: "error" }, (r.body && r.body.error) || "error")); return; }
    const x = r.body;
    out.append(step("", "Client IP", el("code", {}, x.client_ip || ip)),
      step("", "GeoIP", x.geoip_location ? loc(x.geoip_location) : el("span", { class: "muted" }, "not found"),
        x.geoip_database ? el("span", { class: "muted" }, " — " + x.geoip_database.split("/").pop()) : null),
      step("final ok", "Region", el("b", { class: "region" }, x.region), el("span", { class: "tag" }, "by " + x.region_source)));
    if (x.geoip_location && x.geoip_location.country) {
      for (const p of $$("#map path.hl")) p.classList.remove("hl");
      const p = $("#c-" + x.geoip_location.country);
      if (p) p.classList.add("hl");
    }
  });

  // ---- Live ----
  let liveTimer = null, prev = null;
  function stopLive() { if (liveTimer) clearInterval(liveTimer); liveTimer = null; }
  function startLive() {
    if (liveTimer) return;
    prev = null;
    tickLive();
    liveTimer = setInterval(tickLive, 3000);
  }
  // quantile of a histogram's bucket counts (cumulative, upper bounds ub)
  function quantile(q, ub, counts) {
    const total = counts[counts.length - 1];
    if (!total) return null;
    const rank = q * total;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] >= rank) {
        const lo = i ? ub[i - 1] : 0, clo = i ? counts[i - 1] : 0, hi = ub[i];
        if (!isFinite(hi)) return lo;
        return lo + (hi - lo) * ((rank - clo) / Math.max(1, counts[i] - clo));
      }
    }
    return null;
  }
  function diff(a, b) { return b ? a.map((v, i) => v - (b[i] || 0)) : a; }
  async function tickLive() {
    let snap;
    try { snap = (await getJSON("/debug/live")).body; } catch (e) { $("#live-age").textContent = e.message; return; }
    const p = prev;
    prev = snap;
    const dt = p ? (snap.time_ms - p.time_ms) / 1000 : 0;
    $("#live-age").textContent = "updated " + new Date(snap.time_ms).toLocaleTimeString() + (p ? "" : " (rates from the next update)");
    const cards = clear($("#live-cards"));
    const total = snap.routes.reduce((s, r) => s + r.count, 0);
    const ptotal = p ? p.routes.reduce((s, r) => s + r.count, 0) : 0;
    const card = (k, v) => cards.append(el("div", { class: "card" }, el("div", { class: "k" }, k), el("div", { class: "v" }, v)));
    card("requests/s", p ? ((total - ptotal) / dt).toFixed(1) : "…");
    const mix = {};
    for (const r of snap.routes) for (const [code, n] of Object.entries(r.codes)) mix[code[0] + "xx"] = (mix[code[0] + "xx"] || 0) + n;
    card("status mix", Object.keys(mix).sort().map((k) => k + " " + (total ? Math.round((100 * mix[k]) / total) : 0) + "%").join(" · ") || "–");
    const ratio = (h, m) => (h + m ? ((100 * h) / (h + m)).toFixed(1) + "%" : "–");
    card("exists cache hits", ratio(snap.exists_cache.hits, snap.exists_cache.misses));
    card("image cache hits", ratio(snap.images.hit || 0, (snap.images.miss || 0) + (snap.images.stored || 0)));
    card("RSS", fmtBytes(snap.rss_bytes));
    card("goroutines", snap.goroutines);
    const tb = clear($("#live-routes tbody"));
    for (const r of snap.routes) {
      const pr = p && p.routes.find((x) => x.route === r.route);
      const counts = pr ? diff(r.buckets, pr.buckets) : r.buckets;
      const rate = pr ? ((r.count - pr.count) / dt).toFixed(1) : "…";
      tb.append(el("tr", {}, el("td", {}, r.route), el("td", {}, rate), el("td", {}, fmtDur(quantile(0.5, snap.latency_bounds, counts))),
        el("td", {}, fmtDur(quantile(0.99, snap.latency_bounds, counts))),
        el("td", {}, Object.entries(r.codes).map(([c, n]) => c + ": " + n).join(", "))));
    }
    if (!snap.routes.length) tb.append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "no public requests yet")));
    const s3 = clear($("#live-s3 tbody"));
    for (const o of snap.s3) {
      s3.append(el("tr", {}, el("td", {}, o.operation), el("td", {}, o.bucket), el("td", {}, o.count), el("td", {}, fmtDur(o.count ? o.sum / o.count : null)),
        el("td", {}, fmtDur(quantile(0.99, snap.s3_bounds, o.buckets))), el("td", {}, o.errors)));
    }
    if (!snap.s3.length) s3.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "no S3 calls yet")));
    await loadLog();
  }
  const lf = $("#log-form");
  lf.addEventListener("submit", (ev) => { ev.preventDefault(); loadLog(); });
  lf.filter.addEventListener("input", () => loadLog());
  lf.n.addEventListener("change", () => loadLog());
  async function loadLog() {
    const { body } = await getJSON("/debug/access-log?" + new URLSearchParams({ n: lf.n.value, filter: lf.filter.value }));
    $("#log-status").textContent = body.enabled ? body.lines.length + " of the last " + body.held + " lines" + (lf.filter.value ? " matching" : "")
      : "the access log is off (access_log.enabled)";
    $("#log-lines").textContent = body.lines.join("\n");
  }

  // ---- Images ----
  let imagesInfo = null;
  async function loadImages() {
    await loadTable();
    imagesInfo = (await getJSON("/debug/images")).body;
    $("#images-status").textContent = imagesInfo.presets.length + " presets × " + imagesInfo.formats.length + " formats";
  }
  $("#images-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!imagesInfo) await loadImages();
    const f = ev.target;
    const grid = clear($("#images-grid"));
    grid.append(el("thead", {}, el("tr", {}, el("th", {}, "preset"), imagesInfo.formats.map((x) => el("th", {}, x)))));
    const tbody = el("tbody");
    grid.append(tbody);
    const jobs = [];
    for (const pr of imagesInfo.presets) {
      const tr = el("tr", {}, el("th", {}, pr.name, el("div", { class: "muted" }, (pr.width && pr.height ? pr.width + "×" + pr.height : pr.width ? pr.width + " wide" : pr.height + " high") + " " + pr.fit)));
      tbody.append(tr);
      for (const fm of imagesInfo.formats) {
        const td = el("td", { class: "render", "data-preset": pr.name, "data-format": fm }, el("span", { class: "muted" }, "…"));
        tr.append(td);
        jobs.push([td, pr.name, fm]);
      }
    }
    // one at a time: the admission queue is shared with the public listener
    for (const [td, preset, fm] of jobs) {
      const q = new URLSearchParams({ key: f.key.value.trim(), preset: preset, format: fm });
      if (f.region.value) q.set("region", f.region.value);
      const r = await fetch("/debug/image?" + q);
      clear(td);
      if (!r.ok) {
        let msg = r.status + "";
        try { msg = (await r.json()).error; } catch (e) { /* not JSON */ }
        td.append(el("span", { class: "error-text" }, msg));
        continue;
      }
      const blob = await r.blob();
      const img = el("img", { src: URL.createObjectURL(blob), alt: preset + " " + fm, loading: "lazy" });
      td.append(img, el("div", { class: "muted" }, fmtBytes(blob.size) + " · " + r.headers.get("X-Image-Width") + "×" + r.headers.get("X-Image-Height") +
        " · " + r.headers.get("X-Render-Ms") + " ms " + (r.headers.get("X-Cache") || "").toLowerCase()));
    }
  });

  window.addEventListener("hashchange", show);
  loadTable().catch((e) => { $("#rulesver").textContent = e.message; }).then(show);
})();
