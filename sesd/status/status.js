// sesd's status page: the server renders it; this script refreshes it from the JSON
// API (data-api on <body>) every data-refresh seconds, drawing the same markup as
// sesd/status/page.py and charts.py (keep them in step). Every element is built
// with createElement and text nodes: nothing from the API is ever parsed as HTML.
"use strict";

(function () {
  const body = document.body;
  const api = body.dataset.api;
  const view = body.dataset.view;
  const every = Math.max(0.25, Number(body.dataset.refresh) || 5) * 1000;
  const SVG = "http://www.w3.org/2000/svg";
  const TITLES = { domain: "Domains", provider: "Mailbox providers", tenant: "SES tenants" };
  // The status page listing as many alerts as a document may (markup.MORE_ALERTS).
  const MORE_ALERTS = body.dataset.more;
  const STAGES = [
    ["send_seconds", "stage-send", "API call"],
    ["ses_seconds", "stage-ses", "inside SES"],
    ["pipeline_seconds", "stage-pipeline", "event pipeline"],
  ];

  // --- building elements ----------------------------------------------------------

  function fill(el, attrs, children) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined && value !== "") el.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }
  const h = (tag, attrs, ...children) => fill(document.createElement(tag), attrs, children);
  const svg = (tag, attrs, ...children) => fill(document.createElementNS(SVG, tag), attrs, children);
  // Links come from sesd as paths ("/domain/outlook.com"); anything else is not a link.
  const local = (path) => (typeof path === "string" && /^\/[^/\\]/.test(path) ? path : null);
  // A path of sesd's as the page links it (markup.href): relative to the way back to
  // sesd's root from this page, so that a proxy's prefix (/sesd/) is kept.
  const root = body.dataset.root || "";
  const rooted = (path) => root + path.slice(1) || "./";
  const link = (path, text) => (local(path) ? h("a", { href: rooted(local(path)) }, text) : text);
  const td = (text, css) => h("td", { class: css }, text);
  // A row says what it is of (as markup.row): a redraw matches rows by it.
  const row = (key, css, ...cells) => h("tr", { "data-key": key, class: css }, cells);
  const empty = (text) => h("p", { class: "empty" }, text);
  // A table scrolls sideways in its box when wider than the screen (a phone).
  function table(css, head, rows) {
    return h("div", { class: "wide" }, h("table", { class: css },
      h("thead", {}, h("tr", {}, head.map((name) => h("th", {}, name)))),
      h("tbody", {}, rows)));
  }

  // --- figures as text (as sesd/status/charts.py writes them) -----------------------

  // `x` with `n` decimals as the server writes it (Python's f"{x:.{n}f}", its round(x, n)):
  // the double's exact value rounded, a tie to the even digit. toFixed rounds the exact
  // value too, but a tie away from zero: 13/16 is 81.25%, "81.2%" on the server's page
  // and "81.3%" redrawn. (Intl.NumberFormat's roundingMode "halfEven" rounds the
  // shortest decimal that reads back as the double instead: 81.35, a double just under
  // it, reads "81.4" there and "81.3" in Python.) Only a value with at most n + 1
  // decimals in binary (x * 2^(n+1) whole) can be a tie; toFixed(n + 1) then writes it
  // exactly. -0 reads "-0.0" as in Python; NaN, Infinity and from 1e21 as toFixed.
  function fixed(x, n) {
    if (Object.is(x, -0)) return "-" + x.toFixed(n);
    const text = x.toFixed(n);
    if (!Number.isFinite(x) || Math.abs(x) >= 1e21 || n >= 100 || !Number.isInteger(x * 2 ** (n + 1))) return text;
    const exact = x.toFixed(n + 1);
    if (!exact.endsWith("5")) return text;
    const down = exact.slice(0, n ? -1 : -2);
    return Number(down.at(-1)) % 2 === 0 ? down : text;
  }

  // One decimal from 1% up, two significant digits below (0.00067 reads 0.067%, not
  // 0.1%), as sesd.alerting.figures.percent writes it for alerts.
  function percent(v) {
    if (v === null || v === undefined) return "-";
    const value = v * 100;
    if (value === 0 || !Number.isFinite(value)) return fixed(value, 1) + "%";
    const digits = Math.max(1, 1 - Math.floor(Math.log10(Math.abs(value))));
    let text = fixed(value, digits);
    if (digits > 1) {
      text = text.replace(/0+$/, "");
      if (text.endsWith(".")) text += "0";
    }
    return text + "%";
  }
  const seconds = (v, digits = 1) => (v === null || v === undefined ? "-" : fixed(v, digits) + "s");
  // A time outside the years 1 to 9999 (a silence's end written by hand into its file),
  // said as the server says it: a browser's dates go further, written "+033658-...",
  // then end (toISOString throws).
  const far = (t) => (t < -62135596800 ? "before the year 1" : t >= 253402300800 ? "after the year 9999" : "");
  const when = (t) => (t === null || t === undefined ? "-" : far(t) || new Date(t * 1000).toISOString().slice(11, 19) + "Z");
  // A time with its date when that is not the document's day: a silence ending next
  // year is not this morning.
  let docAt = Number(body.dataset.at);
  const day = (t) => far(t) || new Date(t * 1000).toISOString().slice(0, 10);
  const moment = (t) => (t === null || t === undefined || far(t) || day(t) === day(docAt) ? when(t) : day(t) + " " + when(t));
  const pad = (n) => String(n).padStart(2, "0");
  function duration(v) {
    if (v === null || v === undefined) return "-";
    const s = Math.floor(Math.max(0, v));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + pad(s % 60) + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h" + pad(Math.floor((s % 3600) / 60)) + "m";
    return Math.floor(s / 86400) + "d" + pad(Math.floor((s % 86400) / 3600)) + "h";
  }

  // --- charts (the geometry of sesd/status/charts.py) -------------------------------

  function sparkline(values, caption) {
    const W = 120, H = 24, P = 2;
    const step = (W - 2 * P) / Math.max(1, values.length - 1);
    const points = [];
    values.forEach((v, i) => {
      if (v !== null) points.push([+fixed(P + i * step, 1), +fixed(H - P - Math.min(1, v) * (H - 2 * P), 1)]);
    });
    const found = values.filter((v) => v !== null);
    const peak = found.length ? ", at most " + percent(Math.max(...found)) : ", no data";
    const el = svg("svg", { class: "spark", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "data-points": points.length },
      svg("title", {}, caption + peak),
      svg("line", { class: "base", x1: 0, y1: H - P, x2: W, y2: H - P }));
    if (points.length) {
      const last = points[points.length - 1];
      el.append(svg("polyline", { class: "line", points: points.map((p) => p.join(",")).join(" ") }));
      el.append(svg("circle", { class: "dot", cx: last[0], cy: last[1], r: 2 }));
    }
    return el;
  }

  function canaryChart(runs) {
    const W = 240, H = 64, GAP = 2;
    const width = W / Math.max(runs.length, 1) - GAP;
    const stacked = (run) => STAGES.reduce((sum, [field]) => sum + (run[field] || 0), 0);
    const tallest = Math.max(0, ...runs.map(stacked)) || 1;
    const el = svg("svg", { class: "canary-chart", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "data-runs": runs.length },
      svg("title", {}, "stage timings of the newest canaries that came back"));
    runs.forEach((run, i) => {
      const x = +fixed(i * (width + GAP), 1);
      let bottom = H;
      for (const [field, css, name] of STAGES) {
        const value = run[field] || 0;
        const height = +fixed((value / tallest) * H, 1);
        bottom -= height;
        el.append(svg("rect", { class: css, x, y: +fixed(bottom, 1), width: +fixed(width, 1), height },
          svg("title", {}, `${when(run.sent_at)} ${name}: ${seconds(value, 2)}`)));
      }
    });
    return el;
  }

  // --- the status page -------------------------------------------------------------

  // As page.py's RELOAD_FAILED_WHY.
  const RELOAD_FAILED_WHY = "its log line sesd.config.reload_failed says why";
  const SHARE = "one replica of several on the same queues: its figures are the share of the " +
    "traffic SQS hands it, not the fleet's (the fleet's are on the dashboard), and " +
    "its alerts are those it judged on that share (Alertmanager has the fleet's)";

  function sinksFailing(failing) {
    const sinks = Object.entries(failing).map(([sink, outcomes]) =>
      sink + " " + Object.entries(outcomes).map(([outcome, n]) => `${n} ${outcome}`).join(", "));
    return sinks.length ? [" ", h("span", { class: "bad" }, "notifications not sent lately: " + sinks.join("; "))] : null;
  }

  // As page.py's restart_text: the settings that wait for a restart, after the load's time.
  function restartText(reload) {
    if (!reload.restart_count) return "";
    const more = reload.restart_count - reload.restart.length;
    return ` (except what waits for a restart: ${reload.restart.join(", ")}${more > 0 ? ` and ${more} more` : ""})`;
  }

  function header(doc) {
    const d = doc.sesd;
    // As page.py's not_ready: a stop begun, then the queues /readyz names.
    const ready = d.ready ? "ready" : "not ready: " + (d.stopping ? ["stopping"] : []).concat(d.not_ready).join(", ");
    const saved = d.state.ok ? "" : `; state file save FAILED (last saved ${moment(d.state.at)})`;
    const config = "config loaded " + moment(d.reload.at) + restartText(d.reload) + (d.reload.ok ? "" : ", last reload FAILED (" + RELOAD_FAILED_WHY + ")") + saved;
    const parts = [
      h("h1", {}, h("a", { href: rooted("/") }, "sesd"), " status ", h("span", { class: "version" }, d.version + (d.revision ? ` (${d.revision})` : ""))),
      // The replica that drew it (page.py's header): through a Service, each refresh
      // may reach another.
      h("p", { class: "facts" }, d.host ? [h("span", {}, "on " + d.host), " "] : null,
        h("span", {}, "up " + duration(d.uptime_seconds)), " ",
        h("span", { class: d.ready ? "ok" : "bad" }, ready), " ",
        h("span", { class: !(d.reload.ok && d.state.ok) ? "bad" : d.reload.restart_count ? "warn" : "ok" }, config),
        // As page.py's sinks_text: posts that did not go out lately, per sink.
        sinksFailing(d.sinks_failing || {})),
    ];
    // As the server draws it (page.py's SHARE): a replica of a fleet counts its share.
    if (d.shared) parts.push(h("p", { class: "facts" }, SHARE));
    return parts;
  }

  // Below what fires: sixty queues above the alerts pushed them ten screens down a phone.
  function queues(doc) {
    const ready = doc.queues.filter((q) => q.ready).length;
    const rows = doc.queues.map((q) => {
      const errors = Object.values(q.errors).reduce((a, b) => a + b, 0);
      const rate = q.received_per_second === null ? "-" : fixed(q.received_per_second, 1) + "/s";
      return row(q.name, q.ready ? "ok" : "bad",
        td(q.name, "name"), td(`${q.account} / ${q.region}`), td(`${rate} (${q.received} since start)`),
        td(`${q.recent_errors} lately, ${errors} since start`, q.recent_errors ? "bad" : ""),
        td(q.last_receive_seconds_ago === null ? "never" : duration(q.last_receive_seconds_ago) + " ago"));
    });
    return [
      h("h2", {}, "Queues ", h("small", {}, `${ready} of ${doc.queues.length} ready`)),
      table("queues", ["queue", "account / region", "received", "errors", "last receive"], rows),
      h("p", { class: "lag" }, doc.lag.text),
    ];
  }

  // resolved: listed, neither firing nor pending (a resolve a stop left undelivered).
  function alerts(items, total, firing, resolved) {
    const counts = `${firing} firing, ${total - firing - resolved} pending` + (resolved ? `, ${resolved} resolved` : "");
    const title = h("h2", {}, "Now ", h("small", {}, counts));
    if (!items.length) return [title, empty("No alert is firing or pending.")];
    const head = ["state", "rule", "on", "value", "since", "cause and advice", "where", "silence"];
    // A page listing the most (no MORE_ALERTS) says where every alert is instead.
    const more = items.length >= total ? null : MORE_ALERTS
      ? h("p", { class: "more" }, `${items.length} of ${total} listed: `, h("a", { href: MORE_ALERTS }, "list more"))
      : h("p", { class: "more" }, `${items.length} of ${total} listed, the most a page lists: every alert is in `,
        h("a", { href: rooted("/metrics") }, "/metrics"), " (sesd_alerts_firing)");
    return [title, table("alerts", head, items.map((a, i) => alertRow(a, items[i - 1]))), more];
  }

  function alertRow(a, before) {
    // The advice the row above gave is not repeated (hundreds of alerts of one cause).
    const same = before && before.cause && a.cause && before.cause.advice === a.cause.advice;
    const cause = a.cause
      ? [h("span", { class: "cause" }, a.cause.label), ` (${a.cause.noted})`,
         same ? h("span", { class: "advice same" }, "the same advice as above")
           : h("span", { class: "advice" }, a.cause.advice)]
      : [];
    const notes = a.notes.map((n) => h("span", { class: "note" }, n));
    let silence = "-";
    if (a.silence) {
      const ends = a.silence.ends_at === null ? "until resolved" : "until " + moment(a.silence.ends_at);
      silence = [h("span", { class: "silenced" }, "silenced " + ends),
        h("span", { class: "note" }, `${a.silence.comment} (${a.silence.id})`)];
    }
    return row(`${a.rule} ${a.scope} ${a.name}`, `alert ${a.state} ${a.severity}`,
      h("td", {}, h("span", { class: "badge " + a.state }, a.state)),
      h("td", { class: "rule" }, a.rule, h("span", { class: "note" }, a.severity)),
      h("td", { class: "name" }, link(a.link, `${a.scope} ${a.shown || a.name}`),
        a.provider ? h("span", { class: "note" }, "provider " + a.provider) : null),
      h("td", {}, `${a.metric} ${a.value_text}`, h("span", { class: "note" }, `${a.fires_text} ${a.threshold_text}, ${a.window} window`)),
      td(moment(a.since), "time"), h("td", { class: "text" }, cause, notes), td(a.stage), h("td", {}, silence));
  }

  function scopeTable(t) {
    const shown = t.items.length ? `${t.items.length} of ${t.total}` : "none yet";
    const title = h("h2", {}, TITLES[t.axis] || t.axis, " ", h("small", {}, `by delay ratio over ${t.window}, ${shown}`));
    if (!t.items.length) return [title];
    const caption = `delay ratio per ${seconds(t.sparkline_step_seconds, 0)} over ${t.sparkline_window}`;
    const head = [t.axis, "delay ratio", "last " + t.sparkline_window, "delivered", "delayed", "pending", "p95 delay", "top cause", "firing"];
    const rows = t.items.map((r) => row(`${t.axis} ${r.name}`, r.firing.length ? "firing" : "",
      h("td", { class: "name" }, link(r.link, r.shown || r.name)), td(percent(r.delay_ratio), "num"),
      h("td", {}, sparkline(r.sparkline, caption)), td(r.delivered, "num"), td(r.delayed, "num"),
      td(r.pending, "num"), td(seconds(r.delay_p95_seconds), "num"), td(r.top_cause || "-"),
      td(r.firing.join(", ") || "-", r.firing.length ? "bad" : "")));
    const note = t.pending_note ? h("p", { class: "bad" }, t.pending_note) : null;
    return [title, note, table("scope " + t.axis, head, rows)];
  }

  function canary(c) {
    const title = h("h2", {}, "Canary");
    if (!c) return [title, empty("No canary sent (see [canary] in the config).")];
    const counts = `${c.sent} sent, ${c.back} back, ${c.missing} missing, ${c.send_failed} failed to send in the last hour`;
    const last = c.recent.length ? c.recent[c.recent.length - 1] : null;
    const timings = last
      ? "last: " + STAGES.map(([field, , name]) => `${name} ${seconds(last[field], 2)}`).join(", ") + `, end to end ${seconds(last.end_to_end_seconds, 2)}`
      : "no canary has come back yet";
    return [title, h("p", { class: c.missing ? "bad" : "ok" }, counts),
      h("div", { class: "canary" }, canaryChart(c.recent),
        h("p", { class: "legend" }, STAGES.map(([, css, name]) => h("span", { class: "key " + css }, name))),
        h("p", { class: "timings" }, timings))];
  }

  // When SES last answered GetAccount; "failing" while its polls get no answer (the
  // row is that old: a storm of refused polls must not pass for fresh).
  function lastAnswer(a) {
    if (a.polled_at === null || a.polled_at === a.answered_at) return td(moment(a.answered_at), "time");
    const since = a.answered_at === null ? "no answer yet" : moment(a.answered_at);
    return td(`${since} (failing)`, "time bad");
  }

  // How far the walk of the account's tenants' resources has come (as charts.walked).
  function walked(a) {
    const done = a.tenant_map_at === null ? "no map yet" : `map of ${moment(a.tenant_map_at)}`;
    if (a.tenants_listed === null) return a.tenant_map_at === null ? "-" : done;
    return `${a.tenants_mapped} of ${a.tenants_listed} walked, ${done}`;
  }

  function accounts(rows, tenantRows, total) {
    const title = h("h2", {}, "Accounts");
    const flag = (v, good, bad) => (v === null ? "-" : v ? good : bad);
    const head = ["account / region", "sending", "enforcement", "production", "quota used", "bounce (sesd / AWS)", "complaint (sesd / AWS)", "over sends", "answered", "tenant map"];
    const body = rows.length
      ? table("accounts", head, rows.map((a) => row(`${a.account} ${a.region}`, "",
        td(`${a.account} / ${a.region}`), td(flag(a.sending_enabled, "enabled", "PAUSED"), a.sending_enabled === false ? "bad" : ""),
        td(a.enforcement || "-"),
        td(flag(a.production, "yes", "sandbox")), td(percent(a.quota_used_ratio), "num"),
        td(`${percent(a.bounce_ratio)} / ${percent(a.aws_bounce_ratio)}`, "num"),
        td(`${percent(a.complaint_ratio)} / ${percent(a.aws_complaint_ratio)}`, "num"), td(a.sends, "num"), lastAnswer(a),
        td(walked(a), a.tenants_listed !== null && a.tenant_map_at === null ? "bad" : ""))))
      : empty("No account polled or estimated yet.");
    return [title, body, tenants(tenantRows, total)];
  }

  // As markup.tenants_html: when not all `total` are listed, how many are.
  function tenants(rows, total) {
    if (!rows.length) return [];
    const head = ["tenant", "account / region", "sending", "impact", "why", "findings"];
    const cut = rows.length < (total || 0) ? [" ", h("small", {}, `${rows.length} of ${total} listed`)] : [];
    return [h("h2", {}, "What SES says of its tenants", ...cut), table("tenants", head, rows.map((t) =>
      row(`${t.tenant} ${t.account} ${t.region}`, t.sending === "DISABLED" ? "bad" : "", td(t.tenant, "name"), td(`${t.account} / ${t.region}`),
        td(t.sending), td(t.impact || "-"), td(t.cause || "-", "text"),
        h("td", {}, t.findings.length ? t.findings.map((f) => h("span", { class: "note" }, f)) : "-"))))];
  }

  function silences(list) {
    const title = [h("h2", {}, "Silences ", h("small", {}, `${list.total} active or pending`))];
    // The muted alerts page: why, where the on-call looks (absent from an older sesd).
    if (list.unreadable) title.push(h("p", { class: "warn" }, "The silences file cannot be read: " + list.unreadable));
    if (!list.items.length) return [...title, empty("No silence.")];
    const head = ["id", "rule", "domain", "severity", "comment", "state", "ends"];
    return [...title, table("silences", head, list.items.map((s) => row(s.id, "",
      td(s.id), td(s.rule || "*"), td(s.domain || "*", "name"), td(s.severity || "*"), td(s.comment, "name"), td(s.state),
      s.ends_at === null ? td("when its alert resolves") : td(moment(s.ends_at), "time"))))];
  }

  function statusMain(doc) {
    return [
      h("section", { id: "now" }, alerts(doc.alerts.items, doc.alerts.total, doc.alerts.firing, doc.alerts.resolved || 0)),
      h("section", { id: "queues" }, queues(doc)),
      doc.scopes.map((t) => h("section", { id: "scope-" + t.axis, class: "scopes" }, scopeTable(t))),
      h("section", { id: "canary" }, canary(doc.canary)),
      h("section", { id: "accounts" }, accounts(doc.accounts, doc.tenants, doc.tenants_total)),
      h("section", { id: "silences" }, silences(doc.silences)),
    ];
  }

  // --- one domain, provider or tenant ------------------------------------------------

  const pairs = (values) => values.map((c) => `${c.name} ${c.count}`).join(", ") || "-";

  function windows(ws) {
    if (!ws.length) return [h("h2", {}, "Windows"), empty("No event counted under it.")];
    const figures = [
      ["delivered", (w) => w.delivered], ["delayed", (w) => w.delayed],
      ["delay ratio", (w) => percent(w.delay_ratio)], ["bounced", (w) => w.bounced],
      ["bounce ratio", (w) => percent(w.bounce_ratio)], ["complained", (w) => w.complained],
      ["suppressed", (w) => w.suppressed], ["sent", (w) => w.sent],
      ["delivery ratio", (w) => percent(w.delivery_ratio)],
      ["processing p95", (w) => seconds(w.processing_p95_seconds)],
      ["send to delivery p95", (w) => seconds(w.delivery_p95_seconds)],
      ["delay duration p95", (w) => seconds(w.delay_duration_p95_seconds)],
    ];
    const rows = figures.map(([name, get]) => h("tr", {}, h("th", {}, name), ws.map((w) => td(get(w), "num"))));
    rows.push(h("tr", {}, h("th", {}, "delay ratio per bucket"), ws.map((w) =>
      h("td", {}, sparkline(w.sparkline, `delay ratio per ${seconds(w.step_seconds, 0)} over ${w.window}`)))));
    rows.push(h("tr", {}, h("th", {}, "delayed by cause"), ws.map((w) => td(pairs(w.causes)))));
    return [h("h2", {}, "Windows"), table("windows", ["", ...ws.map((w) => w.window)], rows)];
  }

  function breakdown(b) {
    if (b.window === null) {
      return [h("h2", {}, "What the events said"), empty("No breakdown kept: sesd keeps them for the windows rules read.")];
    }
    const kinds = [["causes", b.causes], ["delay types", b.delay_types], ["SMTP status", b.statuses],
      ["diagnostic codes", b.diagnostics], ["reporting MTAs", b.mtas], ["recipient domains", b.domains]];
    return [
      h("h2", {}, "What the events said ", h("small", {}, "over " + b.window)),
      h("div", { class: "kinds" }, kinds.map(([name, values]) => h("div", { class: "kind" }, h("h3", {}, name),
        values.length ? table("breakdown", ["value", "recipients"], values.map((c) => row(c.name, "", td(c.name, "name"), td(c.count, "num"))))
          : empty("none")))),
      h("h3", {}, "Example message ids"),
      b.message_ids.length ? h("ul", { class: "ids" }, b.message_ids.map((m) => h("li", {}, h("code", {}, m)))) : empty("none"),
    ];
  }

  function scopeMain(d) {
    const firing = d.alerts.filter((a) => a.state === "firing").length;
    return [
      h("section", { id: "now" }, alerts(d.alerts, d.alerts.length, firing, d.alerts.filter((a) => a.state === "resolved").length)),
      h("section", { id: "windows" }, windows(d.windows),
        h("p", { class: "pending" }, `${d.pending} recipients delayed and not delivered yet`)),
      h("section", { id: "breakdown" }, breakdown(d.breakdown)),
      h("section", { id: "ses" }, tenants(d.tenants)),
    ];
  }

  // --- refreshing ----------------------------------------------------------------------

  // A refresh that gets no answer in two periods (at least 3 s) has failed: a daemon
  // stopped or stuck accepts the connection and never answers. The page says so, but
  // waits on for that answer: a busy sesd (a thousand alerts on a loaded machine)
  // answers late, and a page that gave up and asked again would never draw a slow
  // answer, while each one abandoned still cost sesd its whole document. Only a
  // request unanswered ten times as long is dropped, and another one tried.
  const patience = Math.max(2 * every, 3000);
  const abandon = 10 * patience;
  const stale = document.getElementById("stale");
  const title = document.querySelector("title");
  const pause = document.getElementById("pause");
  let answered = Date.now();
  let failure = null;
  let paused = false;

  function state(text, css) {
    const el = document.getElementById("refresh-state");
    el.textContent = text;
    el.className = css;
  }

  // What the tab says: what fires, or that the page is not being refreshed.
  function named(prefix) {
    title.textContent = (prefix ? prefix + " · " : "") + title.dataset.name;
  }

  // The banner's first part is an alert, said once an outage; its age (not a live
  // region) counts on every second, or a screen reader would repeat the whole banner.
  function age() {
    if (failure === null) return;
    const since = duration((Date.now() - answered) / 1000);
    document.getElementById("stale-age").textContent =
      `Not refreshed for ${since} (${failure}): what this page shows is as of ${moment(docAt)}.`;
  }

  // What the banner says first: sesd may be down; or it answers, but (a label's page
  // whose API answers 404) no longer counts the label: idle past [domains] idle_evict,
  // or removed by a reload; or refuses the page's query (400, its line saying why: a
  // window a restart with other [windows] no longer keeps). Said again only when it
  // changes.
  const DOWN = "sesd may be down or stuck:";
  const crumb = document.querySelector("#header .crumb");
  const GONE = `sesd answers, but no longer counts this ${crumb ? crumb.textContent : "label"}` +
    " (idle too long, or a reload removed it):";
  const REFUSED = "sesd answers, but refuses this page's address (open it without what it names):";
  function failed(reason, next = "trying again", headline = DOWN) {
    failure = reason;
    const told = document.getElementById("stale-news");
    if (stale.hidden || told.textContent !== headline) {
      told.textContent = headline;
      stale.hidden = false;
    }
    age();
    named("not refreshed");
    state(`not refreshed: ${reason}; ${next}`, "bad");
  }

  function recovered() {
    failure = null;
    stale.hidden = true;
    document.getElementById("stale-news").textContent = "";
  }

  // A redraw turns the nodes on the page into the fresh ones instead of replacing them:
  // what did not change is not touched, and a row that changed keeps its node, so a
  // link in it keeps the keyboard's focus and a screen reader its place, and a table's
  // box its sideways scroll (a phone). Rows are matched by their key wherever they
  // moved (a domain climbing the table), anything else by its place.
  const keyOf = (node) => (node.nodeType === Node.ELEMENT_NODE ? node.getAttribute("data-key") : null);
  const alike = (a, b) => a.nodeName === b.nodeName && a.namespaceURI === b.namespaceURI && keyOf(a) === keyOf(b);

  // The node to keep where `fresh` is drawn: `old` made the same, or `fresh` itself.
  function patch(old, fresh) {
    if (old.isEqualNode(fresh)) return old;
    if (!alike(old, fresh)) return fresh;
    if (old.nodeType === Node.TEXT_NODE) {
      old.data = fresh.data;
      return old;
    }
    if (old.nodeType !== Node.ELEMENT_NODE) return fresh;
    for (const { name } of Array.from(old.attributes)) {
      if (!fresh.hasAttribute(name)) old.removeAttribute(name);
    }
    for (const { name, value } of Array.from(fresh.attributes)) {
      if (old.getAttribute(name) !== value) old.setAttribute(name, value);
    }
    update(old, Array.from(fresh.childNodes));
    return old;
  }

  // `parent`'s children made `fresh`, in its order.
  function update(parent, fresh) {
    const old = Array.from(parent.childNodes);
    const keyed = new Map(old.filter((n) => keyOf(n) !== null).map((n) => [keyOf(n), n]));
    const unkeyed = old.filter((n) => keyOf(n) === null);
    let next = 0;
    const kept = fresh.map((node) => {
      const key = keyOf(node);
      const match = key === null ? unkeyed[next++] : keyed.get(key);
      keyed.delete(key); // a key listed twice: its second row is drawn anew
      return match ? patch(match, node) : node;
    });
    kept.forEach((node, i) => {
      const here = parent.childNodes[i] || null;
      if (node === here) return;
      // Moved, not removed and put back: a row that holds the focus keeps it.
      if (node.parentNode === parent && parent.moveBefore) parent.moveBefore(node, here);
      else parent.insertBefore(node, here);
    });
    while (parent.childNodes.length > kept.length) parent.lastChild.remove();
  }

  // Where the keyboard's focus is, to give it back if a browser without moveBefore
  // loses it as its row moves, or if its link is drawn anew.
  function focused() {
    const el = document.activeElement;
    if (!el || el.tagName !== "A" || !el.closest("#header, #main")) return null;
    return [el.getAttribute("href"), el.textContent];
  }

  function refocus(key) {
    if (!key || document.activeElement !== body) return;
    const found = Array.from(document.querySelectorAll("#header a, #main a"))
      .find((a) => a.getAttribute("href") === key[0] && a.textContent === key[1]);
    if (found) found.focus({ preventScroll: true });
  }

  // Text selected on the page (a message id being copied): a redraw would drop it.
  function selecting() {
    const selection = window.getSelection();
    if (!selection || selection.isCollapsed || !selection.rangeCount) return false;
    const node = selection.anchorNode;
    const el = node && (node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement);
    return Boolean(el && el.closest("#header, #main"));
  }

  // What starts firing or resolves, told to a screen reader (the tab's title is not).
  let firingBefore = null;
  function news(list) {
    const now = new Set(list.filter((a) => a.state === "firing").map((a) => `${a.rule} on ${a.scope} ${a.shown || a.name}`));
    const before = firingBefore;
    firingBefore = now;
    if (before === null) return;
    const some = (keys) => keys.slice(0, 3).join(", ") + (keys.length > 3 ? ` and ${keys.length - 3} more` : "");
    const started = [...now].filter((k) => !before.has(k));
    const ended = [...before].filter((k) => !now.has(k));
    const told = [started.length ? "Firing: " + some(started) + "." : "", ended.length ? "No longer firing: " + some(ended) + "." : ""];
    if (started.length || ended.length) document.getElementById("news").textContent = told.join(" ").trim();
  }

  function render(doc) {
    docAt = doc.at;
    const key = focused();
    // Adjacent texts made one node, as the browser parses the server's markup: what did
    // not change is then equal.
    const drawn = (nodes) => nodes.flat(Infinity).map((node) => {
      node.normalize();
      return node;
    });
    if (view === "status") update(document.getElementById("header"), drawn(header(doc)));
    update(document.getElementById("main"), drawn(view === "status" ? statusMain(doc) : scopeMain(doc)));
    document.getElementById("as-of").textContent = "as of " + when(doc.at);
    refocus(key);
    const list = view === "status" ? doc.alerts.items : doc.alerts;
    const firing = view === "status" ? doc.alerts.firing : list.filter((a) => a.state === "firing").length;
    named(firing ? `${firing} firing` : "");
    news(list);
  }

  // Refreshes drawn, and refresh periods gone by (a paused page draws none).
  let refreshes = 0;
  let ticks = 0;
  async function refresh() {
    // What the banner says of a failure: sesd down, unless it answered (GONE, REFUSED).
    let headline = DOWN;
    try {
      if (paused) return;
      if (selecting()) {
        state("paused while text is selected", "");
        return;
      }
      const late = setTimeout(() => paused || failed(`no answer in ${patience / 1000} s`, "still waiting"), patience);
      let doc;
      try {
        const response = await fetch(api, {
          cache: "no-store", headers: { Accept: "application/json" }, signal: AbortSignal.timeout(abandon),
        });
        // The status page's own API is never a 404 of sesd's: only a label's is.
        if (response.status === 404 && view === "scope") {
          headline = GONE;
          throw new Error("sesd no longer counts it");
        }
        // sesd's refusal is one line of plain text (a proxy's is a page): said as it is.
        const plain = (response.headers.get("Content-Type") || "").startsWith("text/plain");
        if (response.status === 400 && plain) {
          headline = REFUSED;
          throw new Error("HTTP 400: " + (await response.text()).split("\n")[0].slice(0, 200));
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        doc = await response.json();
      } finally {
        clearTimeout(late);
      }
      if (paused) return;
      answered = Date.now();
      render(doc);
      recovered();
      refreshes += 1;
      body.dataset.refreshes = String(refreshes);
      state(`refreshing every ${every / 1000} s`, "");
    } catch (error) {
      failed(error.name === "TimeoutError" ? `no answer in ${abandon / 1000} s` : error.message, "trying again", headline);
    } finally {
      ticks += 1;
      body.dataset.ticks = String(ticks);
      setTimeout(refresh, every);
    }
  }

  // A reader who needs the page still (a screen reader going through a table) stops
  // the refresh, until resumed (the next refresh then comes at its time).
  pause.hidden = false;
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "resume" : "pause";
    state(paused ? "paused: press resume to refresh again" : "resuming", "");
    // A count of what fires in the tab would age unseen; the next refresh names it again.
    if (paused) named("paused");
  });
  setTimeout(refresh, every);
  setInterval(age, 1000);
})();
