//! `--report run.html`: one self-contained page (no network, no external script or font) to
//! look at a run: its summary; a timeline of every attempt (the failed ones that were retried
//! too) on its numbered worker lane, a colour per job and the outcome as a mark, each bar's
//! details on hover, click or the keyboard; the failures in plan order, identical ones grouped,
//! each with its command, logs and output excerpt and a link to its bar; the flaky tasks; what
//! was skipped and why; each job's counts, median and largest task time (partition skew at a
//! glance) and products; and the slowest tasks.
//!
//! The tasks travel as one compact JSON array in the page and are drawn on a canvas, so the
//! page stays quick with a hundred thousand tasks. A script error is written into the page
//! (`#errors`), where a headless browser's DOM dump shows it.

use std::io::{self, Write};

/// Writes the page around `data`, the run as JSON: `{"name", "started", "duration_ms",
/// "counts", "jobs": [names], "tasks": [[job, label, start_ms|null, duration_ms, status,
/// attempts, outcome, [stderr tail], worker slot|null, committed product's bytes|null, flaky
/// (1: it failed, then passed on a retry), [failed attempts before the last: [start_ms,
/// duration_ms, slot, status, outcome, excerpt, stderr log]], excerpt, command, [stdout log,
/// stderr log]|null, allowed (1: a failure its job allows)], ...] in plan order (a task with
/// no failed attempt ends after flaky), "excerpts": [[stdout, stderr], ...], "texts": [...]}`,
/// where an excerpt is an index into "excerpts" (-1: none), whose stdout and stderr index
/// "texts": each text is carried once however many attempts printed it.
pub fn write_page(out: &mut impl Write, title: &str, data: &str) -> io::Result<()> {
    let (head, rest) = PAGE.split_once("@TITLE@").unwrap_or((PAGE, ""));
    let (middle, tail) = rest.split_once("@DATA@").unwrap_or((rest, ""));
    out.write_all(head.as_bytes())?;
    out.write_all(escape_html(title).as_bytes())?;
    out.write_all(middle.as_bytes())?;
    // In a <script> element, `</script>` ends it and `<!--<script>` keeps it from ending where it
    // should; with every `<` written as JSON's `\u003c` (JSON has `<` only inside strings), a
    // task's output can do neither.
    out.write_all(data.replace('<', "\\u003c").as_bytes())?;
    out.write_all(tail.as_bytes())
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const PAGE: &str = r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>batchrun: @TITLE@</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
#summary span{display:inline-block;margin-right:14px}
.ok{color:#1a7f37}.bad{color:#cf222e}.dim{color:#656d76}.warn{color:#9a6700}
#errors{color:#cf222e;white-space:pre-wrap;margin:0}
#wrap{position:relative;border:1px solid #d0d7de;border-radius:6px;padding:6px;overflow:hidden}
#timeline{display:block;width:100%}#timeline:focus{outline:2px solid #0969da;outline-offset:2px}
#axis{display:flex;justify-content:space-between;color:#656d76;font-size:12px;margin-left:34px}
#tip{position:absolute;display:none;background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:6px 8px;
box-shadow:0 4px 12px rgba(0,0,0,.15);font-size:12px;max-width:480px;pointer-events:none;white-space:pre-wrap}
#details{border:1px solid #d0d7de;border-radius:6px;padding:8px 10px;margin-top:8px;min-height:1.5em}
#details pre,.fail pre{margin:4px 0 0;white-space:pre-wrap;word-break:break-all;color:#3d444d;background:#f6f8fa;padding:6px;border-radius:4px;max-height:28em;overflow:auto}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #eaeef2;text-align:left}
th{font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.fail{border-left:3px solid #cf222e;padding:4px 10px;margin:6px 0;background:#fff5f5}
.fail.allowed{border-color:#bf8700;background:#fff8e5}
.skip{border-left:3px solid #8c959f;padding:4px 10px;margin:6px 0;background:#f6f8fa}
.flaky{border-left:3px solid #bf8700;padding:4px 10px;margin:6px 0;background:#fff8e5}
summary{cursor:pointer;color:#0969da}
.legend span{display:inline-block;margin-right:12px}.legend i{display:inline-block;width:12px;height:10px;margin-right:4px;border-radius:2px;vertical-align:-1px}
.hint{font-size:12px;color:#656d76}
</style></head>
<body>
<pre id="errors"></pre>
<script>
window.onerror = function (message, source, line, column) {
  document.getElementById("errors").textContent += "script error: " + message + " (" + line + ":" + column + ")\n";
};
</script>
<h1 id="title"></h1>
<p id="summary"></p>
<h2>Timeline</h2>
<div class="legend" id="legend"></div>
<div class="legend" id="marks"></div>
<div id="wrap"><canvas id="timeline" height="40" tabindex="0" role="application"
aria-label="Timeline of the run's attempts. Arrow keys move between them; their details show below."></canvas>
<div id="axis"></div><div id="tip"></div></div>
<div id="details" aria-live="polite"><span class="hint">Point at a bar, click it, or focus the timeline and use the arrow keys, to see an attempt here.</span></div>
<h2 id="failures-title">Failures</h2>
<div id="failures"></div>
<h2 id="flaky-title">Flaky</h2>
<div id="flaky"></div>
<h2 id="skipped-title">Skipped and not run</h2>
<div id="skipped"></div>
<h2>Jobs</h2>
<table id="jobs"></table>
<h2>Slowest tasks</h2>
<table id="slowest"></table>
<script id="data" type="application/json">@DATA@</script>
<script>
(function () {
  var d = JSON.parse(document.getElementById("data").textContent);
  var T = d.tasks, X = (d.excerpts || []).map(function (p) { return [d.texts[p[0]], d.texts[p[1]]]; });
  var JOB = 0, LABEL = 1, START = 2, DUR = 3, STATUS = 4, ATTEMPTS = 5, OUTCOME = 6, TAIL = 7, SLOT = 8, PRODUCT = 9,
    FLAKY = 10, TRIES = 11, EXCERPT = 12, COMMAND = 13, LOGS = 14, ALLOWED = 15;
  // A colour per job (outcomes are marks, not colours); red is kept for failure.
  var palette = ["#4e79a7", "#f28e2b", "#59a14f", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#86bcb6"];
  function jobColor(j) { return palette[j % palette.length]; }
  var MARK = {failed: "#cf222e", signalled: "#cf222e", not_started: "#cf222e", lost: "#82071e", undelivered: "#8250df",
    product_failed: "#cf222e", timeout: "#fb8500", cancelled: "#57606a"};
  function fmt(ms) {
    if (ms < 1000) return ms + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    if (ms < 3600000) return Math.floor(ms / 60000) + " m " + Math.round((ms % 60000) / 1000) + " s";
    return Math.floor(ms / 3600000) + " h " + Math.round((ms % 3600000) / 60000) + " m";
  }
  function num(n) { return n.toLocaleString("en-US"); }
  function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
  function add(parent) { for (var k = 1; k < arguments.length; k++) { var c = arguments[k]; parent.appendChild(typeof c === "string" ? document.createTextNode(c) : c); } return parent; }
  function notRun(s) { return s === "skipped" || s === "not_run"; }
  function failed(t) { var s = t[STATUS]; return s !== "ok" && !notRun(s) && s !== "cancelled"; }
  var runStart = Date.parse(d.started);
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function utc(ms) { var t = new Date(ms); return t.getUTCFullYear() + "-" + pad(t.getUTCMonth() + 1) + "-" + pad(t.getUTCDate()) + " " + pad(t.getUTCHours()) + ":" + pad(t.getUTCMinutes()) + ":" + pad(t.getUTCSeconds()) + " UTC"; }
  function local(ms) {
    var t = new Date(ms), off = -t.getTimezoneOffset(), sign = off < 0 ? "-" : "+";
    off = Math.abs(off);
    return pad(t.getHours()) + ":" + pad(t.getMinutes()) + ":" + pad(t.getSeconds()) + " local (UTC" + sign + pad(Math.floor(off / 60)) + ":" + pad(off % 60) + ")";
  }
  function when(ms) { return isNaN(runStart) ? "" : utc(runStart + ms) + ", " + local(runStart + ms); }

  document.getElementById("title").textContent = d.name;
  var c = d.counts, summary = document.getElementById("summary");
  [[num(c.total) + (c.total === 1 ? " task" : " tasks"), ""],
   [num(c.succeeded) + " succeeded" + (c.flaky ? " (" + num(c.flaky) + " flaky)" : ""), "ok"],
   [num(c.failed) + " failed" + (c.allowed ? " (" + num(c.allowed) + " allowed)" : ""), c.failed > (c.allowed || 0) ? "bad" : "dim"],
   [num(c.cancelled || 0) + " cancelled", "dim"], [num(c.skipped) + " skipped", "dim"],
   [num(c.not_run) + " not run", "dim"], [num(c.already_done) + " done earlier", "dim"],
   ["in " + fmt(d.duration_ms), "dim"], ["started " + when(0), "dim"]].forEach(function (p) {
    summary.appendChild(el("span", p[0], p[1]));
  });
  if (d.stopped) summary.appendChild(el("span", "stopped early: " + d.stopped, "bad"));

  var legend = document.getElementById("legend");
  d.jobs.forEach(function (name, j) {
    var span = el("span"), i = el("i"); i.style.background = jobColor(j); add(span, i, name); legend.appendChild(span);
  });
  var marks = document.getElementById("marks");
  [["failed", "red band: failed"], ["timeout", "orange band: timed out"], ["cancelled", "grey band: cancelled"], ["retried", "faded: failed, then retried"]].forEach(function (m) {
    var span = el("span", undefined, "hint"), i = el("i");
    i.style.background = m[0] === "retried" ? "rgba(78,121,167,.4)" : "#4e79a7";
    if (MARK[m[0]] || m[0] === "retried") i.style.borderBottom = "4px solid " + (MARK[m[0]] || MARK.failed);
    add(span, i, m[1]); marks.appendChild(span);
  });

  // Bars: every attempt that ran, the failed ones that were retried too.
  var bars = [];
  T.forEach(function (t, i) {
    (t[TRIES] || []).forEach(function (a, k) {
      if (a[0] !== null) bars.push({task: i, attempt: k + 1, start: a[0], dur: a[1], slot: a[2], status: a[3], outcome: a[4], excerpt: a[5], log: a[6], tried: true});
    });
    if (t[START] !== null) bars.push({task: i, attempt: t[ATTEMPTS], start: t[START], dur: t[DUR], slot: t[SLOT], status: t[STATUS], outcome: t[OUTCOME], excerpt: t[EXCERPT], tried: false});
  });
  bars.sort(function (a, b) { return a.start - b.start; });
  // Lanes: the worker that ran each attempt when the run says (a local run); otherwise each
  // goes to the first lane free at its start.
  var laneEnd = [], lanes = [], end = 1, last = {};
  var bySlot = bars.length > 0 && bars.every(function (b) { return b.slot !== null && b.slot !== undefined; });
  bars.forEach(function (b, n) {
    var s = b.start, e = s + Math.max(b.dur, 0), l = -1;
    if (bySlot) {
      l = b.slot;
      while (lanes.length <= l) { lanes.push([]); laneEnd.push(0); }
    } else {
      for (var k = 0; k < laneEnd.length; k++) if (laneEnd[k] <= s) { l = k; break; }
      if (l < 0) { l = laneEnd.length; laneEnd.push(0); lanes.push([]); }
    }
    laneEnd[l] = Math.max(laneEnd[l], e); b.lane = l; b.pos = lanes[l].length; lanes[l].push(n); if (e > end) end = e;
    if (!b.tried) last[b.task] = n;
  });
  var canvas = document.getElementById("timeline"), wrap = document.getElementById("wrap");
  var GUTTER = 34;
  var laneH = Math.max(2, Math.min(20, Math.floor(480 / Math.max(lanes.length, 1))));
  var width = Math.max(wrap.clientWidth - 12, 300), ratio = window.devicePixelRatio || 1, height = Math.max(lanes.length * laneH, 20);
  canvas.style.height = height + "px";
  canvas.width = width * ratio; canvas.height = height * ratio;
  var g = canvas.getContext("2d"); g.scale(ratio, ratio);
  var scale = (width - GUTTER) / end, selected = -1;
  function x(ms) { return GUTTER + ms * scale; }
  var labelled = 0;
  function draw() {
    g.clearRect(0, 0, width, height);
    labelled = 0;
    g.font = Math.min(11, laneH - 2) + "px system-ui,sans-serif"; g.textBaseline = "middle";
    // Lane numbers, as many as fit.
    g.fillStyle = "#656d76"; g.textAlign = "right";
    var every = Math.ceil(12 / laneH);
    for (var l = 0; l < lanes.length; l += every) if (laneH >= 6 || l % every === 0) g.fillText(String(l + 1), GUTTER - 6, l * laneH + laneH / 2);
    g.textAlign = "left";
    bars.forEach(function (b, n) {
      var t = T[b.task], x0 = x(b.start), w = Math.max(b.dur * scale, 1), y = b.lane * laneH, h = Math.max(laneH - 1, 1);
      g.globalAlpha = b.tried || b.status === "cancelled" ? 0.4 : 1;
      g.fillStyle = jobColor(t[JOB]); g.fillRect(x0, y, w, h);
      g.globalAlpha = 1;
      var mark = MARK[b.status] || (b.tried ? MARK.failed : null);
      if (mark) { var band = Math.max(1, Math.round(h / 3)); g.fillStyle = mark; g.fillRect(x0, y + h - band, w, band); }
      // A label needs room: most bars of a long run are a pixel wide, and are not measured.
      if (laneH >= 12 && w >= 24) {
        var text = t[LABEL] + (b.tried ? " (attempt " + b.attempt + ")" : "");
        if (g.measureText(text).width + 6 <= w) { g.fillStyle = "#1f2328"; g.fillText(text, x0 + 3, y + h / 2 - (mark ? 1 : 0)); labelled++; }
      }
    });
    if (selected >= 0) {
      var b = bars[selected];
      g.strokeStyle = "#0969da"; g.lineWidth = 2;
      g.strokeRect(x(b.start) - 1, b.lane * laneH, Math.max(b.dur * scale, 1) + 2, Math.max(laneH - 1, 1));
    }
  }
  draw();
  var axis = document.getElementById("axis");
  [0, 0.25, 0.5, 0.75, 1].forEach(function (f) { axis.appendChild(el("span", fmt(Math.round(end * f)))); });
  var tried = bars.filter(function (b) { return b.tried; }).length;
  document.body.setAttribute("data-tasks", T.length);
  document.body.setAttribute("data-drawn", bars.length - tried);
  document.body.setAttribute("data-attempts-drawn", tried);
  document.body.setAttribute("data-lanes", lanes.length);
  document.body.setAttribute("data-labelled", labelled);

  function excerpt(parent, index, note) {
    var ex = X[index];
    if (!ex) return;
    if (note) parent.appendChild(el("div", note, "hint"));
    if (ex[0]) { parent.appendChild(el("div", "stdout")); parent.appendChild(el("pre", ex[0])); }
    if (ex[1]) { parent.appendChild(el("div", "stderr")); parent.appendChild(el("pre", ex[1])); }
    if (!ex[0] && !ex[1]) parent.appendChild(el("div", "it printed nothing", "dim"));
  }
  function describe(b) {
    var t = T[b.task];
    var text = t[LABEL] + (b.tried ? " — attempt " + b.attempt + " of " + t[ATTEMPTS] : "") + "\njob " + d.jobs[t[JOB]] + ", lane " + (b.lane + 1) +
      "\n" + b.status + (b.outcome ? ": " + b.outcome : "") +
      "\nstarted at +" + fmt(b.start) + " (" + when(b.start) + "), took " + fmt(b.dur) +
      (!b.tried && t[ATTEMPTS] > 1 ? "\n" + t[ATTEMPTS] + " attempts" : "") +
      (!b.tried && t[FLAKY] ? "\nflaky: it failed, then passed on attempt " + t[ATTEMPTS] : "");
    return text;
  }
  var details = document.getElementById("details");
  function select(n, scroll) {
    if (n < 0 || n >= bars.length) return;
    selected = n; draw();
    var b = bars[n], t = T[b.task];
    details.textContent = "";
    details.appendChild(el("div", describe(b))).style.whiteSpace = "pre-wrap";
    if (!b.tried && t[COMMAND]) details.appendChild(el("pre", "command: " + t[COMMAND]));
    if (!b.tried && t[LOGS]) details.appendChild(el("div", "logs: " + t[LOGS][0] + ", " + t[LOGS][1], "dim"));
    if (b.tried && b.log) details.appendChild(el("div", "stderr log: " + b.log, "dim"));
    if (b.excerpt >= 0) excerpt(details, b.excerpt);
    else if (!b.tried && t[TAIL].length) details.appendChild(el("pre", t[TAIL].join("\n")));
    details.setAttribute("data-selected", t[LABEL]);
    if (scroll) wrap.scrollIntoView({block: "center"});
  }
  function hit(ev) {
    var r = canvas.getBoundingClientRect(), px = ev.clientX - r.left, py = ev.clientY - r.top;
    var lane = lanes[Math.floor(py / laneH)], at = (px - GUTTER) / scale, found = -1;
    if (lane) {
      var lo = 0, hi = lane.length - 1;
      while (lo <= hi) { var mid = (lo + hi) >> 1; if (bars[lane[mid]].start <= at) { found = lane[mid]; lo = mid + 1; } else hi = mid - 1; }
      if (found >= 0 && bars[found].start + bars[found].dur + 2 / scale < at) found = -1;
    }
    return {n: found, x: px, y: py};
  }
  var tip = document.getElementById("tip");
  canvas.addEventListener("mousemove", function (ev) {
    var h = hit(ev);
    if (h.n < 0) { tip.style.display = "none"; return; }
    tip.textContent = describe(bars[h.n]) + "\n(click for the output)";
    tip.style.display = "block";
    tip.style.left = Math.min(h.x + 14, wrap.clientWidth - 300) + "px"; tip.style.top = (h.y + 14) + "px";
  });
  canvas.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  canvas.addEventListener("click", function (ev) { var h = hit(ev); if (h.n >= 0) select(h.n); });
  canvas.addEventListener("focus", function () { if (selected < 0 && bars.length) select(0); });
  canvas.addEventListener("keydown", function (ev) {
    if (!bars.length) return;
    var b = bars[Math.max(selected, 0)], lane = lanes[b.lane], next = -1;
    if (ev.key === "ArrowRight" && b.pos + 1 < lane.length) next = lane[b.pos + 1];
    else if (ev.key === "ArrowLeft" && b.pos > 0) next = lane[b.pos - 1];
    else if (ev.key === "Home") next = 0;
    else if (ev.key === "End") next = bars.length - 1;
    else if (ev.key === "ArrowUp" || ev.key === "ArrowDown") {
      for (var l = b.lane + (ev.key === "ArrowUp" ? -1 : 1); l >= 0 && l < lanes.length; l += (ev.key === "ArrowUp" ? -1 : 1)) {
        if (!lanes[l].length) continue;
        var best = lanes[l][0];
        lanes[l].forEach(function (n) { if (Math.abs(bars[n].start - b.start) < Math.abs(bars[best].start - b.start)) best = n; });
        next = best; break;
      }
    } else return;
    ev.preventDefault();
    if (next >= 0) select(next);
  });
  // `#task-N` selects task N's last attempt: the failures link to their bars.
  function follow() {
    var m = /^#task-(\d+)$/.exec(location.hash);
    if (m && last[+m[1]] !== undefined) select(last[+m[1]], true);
  }
  window.addEventListener("hashchange", follow);

  function link(i) { var a = el("a", T[i][LABEL]); a.href = "#task-" + i; return a; }
  // Failures in plan order; identical ones (same job, outcome and last line of stderr) as one.
  var failures = document.getElementById("failures"), groups = [], byKey = {};
  T.forEach(function (t, i) {
    if (!failed(t)) return;
    var key = t[JOB] + "\u0000" + t[OUTCOME] + "\u0000" + (t[TAIL].length ? t[TAIL][t[TAIL].length - 1] : "");
    if (!byKey[key]) { byKey[key] = {tasks: []}; groups.push(byKey[key]); }
    byKey[key].tasks.push(i);
  });
  groups.slice(0, 200).forEach(function (group) {
    var i = group.tasks[0], t = T[i], div = el("div", undefined, "fail" + (t[ALLOWED] ? " allowed" : ""));
    add(div, el("strong"), " " + (t[ALLOWED] ? "(allowed) " : "") + t[OUTCOME] + (t[ATTEMPTS] > 1 ? " after " + t[ATTEMPTS] + " attempts" : ""));
    div.firstChild.appendChild(link(i));
    if (group.tasks.length > 1) {
      var alike = el("div", undefined, "dim");
      add(alike, "and " + num(group.tasks.length - 1) + " more alike: ");
      group.tasks.slice(1, 21).forEach(function (k, n) { if (n) add(alike, ", "); alike.appendChild(link(k)); });
      if (group.tasks.length > 21) add(alike, ", …");
      div.appendChild(alike);
    }
    if (t[TAIL].length) div.appendChild(el("pre", t[TAIL].join("\n")));
    var more = el("details"); more.appendChild(el("summary", "command, logs and output"));
    if (t[COMMAND]) more.appendChild(el("pre", "command: " + t[COMMAND]));
    if (t[LOGS]) more.appendChild(el("div", "logs: " + t[LOGS][0] + ", " + t[LOGS][1], "dim"));
    if (t[EXCERPT] >= 0) excerpt(more, t[EXCERPT], group.tasks.length > 1 ? "output of " + t[LABEL] + ", the first of these (each one's is in its bar's details)" : "");
    else more.appendChild(el("div", "no output excerpt here: the JSON report holds every attempt's", "dim"));
    div.appendChild(more);
    failures.appendChild(div);
  });
  if (groups.length > 200) failures.appendChild(el("p", "and " + num(groups.length - 200) + " more kinds of failure", "dim"));
  if (!groups.length) failures.appendChild(el("p", "none", "ok"));

  var flaky = document.getElementById("flaky"), flakyShown = 0;
  T.forEach(function (t, i) {
    if (!t[FLAKY] || flakyShown >= 200) return;
    flakyShown++;
    var div = el("div", undefined, "flaky"), tries = t[TRIES] || [];
    add(div, el("strong", "FLAKY "), link(i), " passed on attempt " + t[ATTEMPTS] + " after " + tries.map(function (a) { return a[4]; }).join(", "));
    var with_ = tries.filter(function (a) { return a[5] >= 0; });
    if (with_.length) { var more = el("details"); more.appendChild(el("summary", "the failed attempts' output")); with_.forEach(function (a) { excerpt(more, a[5]); }); div.appendChild(more); }
    flaky.appendChild(div);
  });
  if (!flakyShown) flaky.appendChild(el("p", "none", "dim"));

  // What did not run, per job and reason.
  var skipped = document.getElementById("skipped"), skips = [], byReason = {};
  T.forEach(function (t, i) {
    if (!notRun(t[STATUS])) return;
    var key = t[JOB] + "\u0000" + t[OUTCOME];
    if (!byReason[key]) { byReason[key] = {job: t[JOB], why: t[OUTCOME], tasks: []}; skips.push(byReason[key]); }
    byReason[key].tasks.push(i);
  });
  skips.forEach(function (s) {
    var div = el("div", undefined, "skip");
    add(div, el("strong", d.jobs[s.job]), ": " + num(s.tasks.length) + (s.tasks.length === 1 ? " task " : " tasks ") + s.why);
    var list = el("details"); list.appendChild(el("summary", "which"));
    list.appendChild(el("div", s.tasks.slice(0, 100).map(function (k) { return T[k][LABEL]; }).join(", ") + (s.tasks.length > 100 ? ", …" : "")));
    div.appendChild(list);
    skipped.appendChild(div);
  });
  if (!skips.length) skipped.appendChild(el("p", "none", "dim"));

  var jobs = document.getElementById("jobs"), head = el("tr");
  ["job", "tasks", "succeeded", "failed", "cancelled", "skipped", "not run", "median", "largest", "largest ÷ median", "products"].forEach(function (h) { head.appendChild(el("th", h)); });
  jobs.appendChild(head);
  d.jobs.forEach(function (name, j) {
    var mine = T.filter(function (t) { return t[JOB] === j; });
    if (!mine.length) return;
    function count(f) { return num(mine.filter(f).length); }
    var times = mine.filter(function (t) { return t[START] !== null; }).map(function (t) { return t[DUR]; }).sort(function (a, b) { return a - b; });
    var median = times.length ? times[Math.floor((times.length - 1) / 2)] : 0, most = times.length ? times[times.length - 1] : 0;
    var row = el("tr");
    // Products committed, and their bytes.
    var made = mine.filter(function (t) { return t[PRODUCT] !== null && t[PRODUCT] !== undefined; });
    var bytes = made.reduce(function (sum, t) { return sum + t[PRODUCT]; }, 0);
    var products = made.length ? num(made.length) + " (" + num(bytes) + " bytes)" : "–";
    var cell = el("td"), swatch = el("i"); swatch.style.cssText = "display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px;background:" + jobColor(j);
    add(cell, swatch, name); row.appendChild(cell);
    [num(mine.length), count(function (t) { return t[STATUS] === "ok"; }), count(failed), count(function (t) { return t[STATUS] === "cancelled"; }),
     count(function (t) { return t[STATUS] === "skipped"; }), count(function (t) { return t[STATUS] === "not_run"; }),
     times.length ? fmt(median) : "–", times.length ? fmt(most) : "–", median ? (most / median).toFixed(1) + "×" : "–", products].forEach(function (v) {
      row.appendChild(el("td", v, "n"));
    });
    jobs.appendChild(row);
  });

  var slowest = document.getElementById("slowest");
  T.map(function (t, i) { return i; }).filter(function (i) { return T[i][START] !== null; })
    .sort(function (a, b) { return T[b][DUR] - T[a][DUR]; }).slice(0, 10).forEach(function (i) {
    var row = el("tr"); row.appendChild(el("td")).appendChild(link(i)); row.appendChild(el("td", fmt(T[i][DUR]), "n")); row.appendChild(el("td", T[i][STATUS]));
    slowest.appendChild(row);
  });
  follow();
  // How long the page took to draw, from the start of its load: PERFORMANCE.md measures it.
  document.body.setAttribute("data-render-ms", Math.round(performance.now()));
})();
</script>
</body></html>
"##;
