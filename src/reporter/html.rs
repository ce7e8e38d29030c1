//! `--report run.html`: one self-contained page (no network, no external script or font) to
//! look at a run: its summary, a timeline of every task on its worker lane coloured by outcome
//! (lanes computed from start and end times), the failures first, each job's median and largest
//! task time (partition skew at a glance), and the slowest tasks.
//!
//! The tasks travel as one compact JSON array in the page and are drawn on a canvas, so the
//! page stays quick with a hundred thousand tasks. A script error is written into the page
//! (`#errors`), where a headless browser's DOM dump shows it.

use std::io::{self, Write};

/// Writes the page around `data`, the run as JSON: `{"name", "started", "duration_ms",
/// "counts", "jobs": [names], "tasks": [[job, label, start_ms|null, duration_ms, status,
/// attempts, outcome, [stderr tail], worker slot|null, committed product's bytes|null, flaky
/// (1: it failed, then passed on a retry)], ...]}`
/// in plan order.
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
.ok{color:#1a7f37}.bad{color:#cf222e}.dim{color:#656d76}
#errors{color:#cf222e;white-space:pre-wrap;margin:0}
#wrap{position:relative;border:1px solid #d0d7de;border-radius:6px;padding:6px;overflow:hidden}
#timeline{display:block;width:100%}
#axis{display:flex;justify-content:space-between;color:#656d76;font-size:12px}
#tip{position:absolute;display:none;background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:6px 8px;
box-shadow:0 4px 12px rgba(0,0,0,.15);font-size:12px;max-width:480px;pointer-events:none;white-space:pre-wrap}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #eaeef2;text-align:left}
th{font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.fail{border-left:3px solid #cf222e;padding:4px 10px;margin:6px 0;background:#fff5f5}
.fail pre{margin:4px 0 0;white-space:pre-wrap;color:#57606a}
.legend span{display:inline-block;margin-right:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
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
<div id="wrap"><canvas id="timeline" height="40"></canvas><div id="axis"></div><div id="tip"></div></div>
<h2 id="failures-title">Failures</h2>
<div id="failures"></div>
<h2>Jobs</h2>
<table id="jobs"></table>
<h2>Slowest tasks</h2>
<table id="slowest"></table>
<script id="data" type="application/json">@DATA@</script>
<script>
(function () {
  var d = JSON.parse(document.getElementById("data").textContent);
  var T = d.tasks;
  var JOB = 0, LABEL = 1, START = 2, DUR = 3, STATUS = 4, ATTEMPTS = 5, OUTCOME = 6, TAIL = 7, SLOT = 8, PRODUCT = 9, FLAKY = 10;
  var colors = {ok: "#2da44e", failed: "#cf222e", signalled: "#cf222e", timeout: "#fb8500", cancelled: "#8c959f",
    not_started: "#a40e26", lost: "#82071e", undelivered: "#8250df", skipped: "#d0d7de", not_run: "#d0d7de"};
  function fmt(ms) {
    if (ms < 1000) return ms + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    if (ms < 3600000) return Math.floor(ms / 60000) + " m " + Math.round((ms % 60000) / 1000) + " s";
    return Math.floor(ms / 3600000) + " h " + Math.round((ms % 3600000) / 60000) + " m";
  }
  function num(n) { return n.toLocaleString("en-US"); }
  function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
  function failed(t) { var s = t[STATUS]; return s !== "ok" && s !== "skipped" && s !== "not_run" && s !== "cancelled"; }

  document.getElementById("title").textContent = d.name;
  var c = d.counts, summary = document.getElementById("summary");
  [[num(c.total) + (c.total === 1 ? " task" : " tasks"), ""],
   [num(c.succeeded) + " succeeded" + (c.flaky ? " (" + num(c.flaky) + " flaky)" : ""), "ok"],
   [num(c.failed) + " failed", c.failed ? "bad" : "dim"], [num(c.cancelled || 0) + " cancelled", "dim"],
   [num(c.skipped) + " skipped", "dim"],
   [num(c.not_run) + " not run", "dim"], [num(c.already_done) + " done earlier", "dim"],
   ["in " + fmt(d.duration_ms), "dim"], ["started " + d.started, "dim"]].forEach(function (p) {
    summary.appendChild(el("span", p[0], p[1]));
  });

  var legend = document.getElementById("legend");
  ["ok", "failed", "timeout", "cancelled", "lost", "undelivered"].forEach(function (s) {
    var span = el("span"), i = el("i"); i.style.background = colors[s]; span.appendChild(i); span.appendChild(document.createTextNode(s)); legend.appendChild(span);
  });

  // Lanes: the worker that ran each task when the run says (a local run); otherwise each task
  // goes to the first lane free at its start.
  var ran = [];
  for (var i = 0; i < T.length; i++) if (T[i][START] !== null) ran.push(i);
  ran.sort(function (a, b) { return T[a][START] - T[b][START]; });
  var laneEnd = [], laneOf = new Int32Array(T.length).fill(-1), lanes = [], end = 1;
  var bySlot = ran.length > 0 && ran.every(function (i) { return T[i][SLOT] !== null && T[i][SLOT] !== undefined; });
  ran.forEach(function (i) {
    var s = T[i][START], e = s + Math.max(T[i][DUR], 0), l = -1;
    if (bySlot) {
      l = T[i][SLOT];
      while (lanes.length <= l) { lanes.push([]); laneEnd.push(0); }
    } else {
      for (var k = 0; k < laneEnd.length; k++) if (laneEnd[k] <= s) { l = k; break; }
      if (l < 0) { l = laneEnd.length; laneEnd.push(0); lanes.push([]); }
    }
    laneEnd[l] = e; laneOf[i] = l; lanes[l].push(i); if (e > end) end = e;
  });
  var canvas = document.getElementById("timeline"), wrap = document.getElementById("wrap");
  var laneH = Math.max(2, Math.min(18, Math.floor(480 / Math.max(lanes.length, 1))));
  var width = Math.max(wrap.clientWidth - 12, 300), ratio = window.devicePixelRatio || 1;
  canvas.style.height = Math.max(lanes.length * laneH, 20) + "px";
  canvas.width = width * ratio; canvas.height = Math.max(lanes.length * laneH, 20) * ratio;
  var g = canvas.getContext("2d"); g.scale(ratio, ratio);
  var scale = width / end;
  ran.forEach(function (i) {
    var t = T[i];
    g.fillStyle = colors[t[STATUS]] || "#57606a";
    g.fillRect(t[START] * scale, laneOf[i] * laneH, Math.max(t[DUR] * scale, 1), Math.max(laneH - 1, 1));
  });
  var axis = document.getElementById("axis");
  [0, 0.25, 0.5, 0.75, 1].forEach(function (f) { axis.appendChild(el("span", fmt(Math.round(end * f)))); });
  document.body.setAttribute("data-tasks", T.length);
  document.body.setAttribute("data-drawn", ran.length);
  document.body.setAttribute("data-lanes", lanes.length);

  var tip = document.getElementById("tip");
  function describe(t) {
    var text = t[LABEL] + "\n" + t[STATUS] + (t[OUTCOME] ? ": " + t[OUTCOME] : "") +
      "\nstarted at " + fmt(t[START]) + ", took " + fmt(t[DUR]) + (t[ATTEMPTS] > 1 ? ", " + t[ATTEMPTS] + " attempts" : "") +
      (t[FLAKY] ? "\nflaky: it failed, then passed on attempt " + t[ATTEMPTS] : "");
    if (t[TAIL].length) text += "\n\n" + t[TAIL].join("\n");
    return text;
  }
  canvas.addEventListener("mousemove", function (ev) {
    var r = canvas.getBoundingClientRect(), x = ev.clientX - r.left, y = ev.clientY - r.top;
    var lane = lanes[Math.floor(y / laneH)], at = x / scale, hit = -1;
    if (lane) {
      var lo = 0, hi = lane.length - 1;
      while (lo <= hi) { var mid = (lo + hi) >> 1; if (T[lane[mid]][START] <= at) { hit = lane[mid]; lo = mid + 1; } else hi = mid - 1; }
      if (hit >= 0 && T[hit][START] + T[hit][DUR] + 1 / scale < at) hit = -1;
    }
    if (hit < 0) { tip.style.display = "none"; return; }
    tip.textContent = describe(T[hit]);
    tip.style.display = "block";
    tip.style.left = Math.min(x + 14, wrap.clientWidth - 300) + "px"; tip.style.top = (y + 14) + "px";
  });
  canvas.addEventListener("mouseleave", function () { tip.style.display = "none"; });

  var failures = document.getElementById("failures"), shown = 0, bad = T.filter(failed);
  bad.slice(0, 200).forEach(function (t) {
    var div = el("div", undefined, "fail");
    div.appendChild(el("strong", t[LABEL]));
    div.appendChild(document.createTextNode(" " + t[OUTCOME] + (t[ATTEMPTS] > 1 ? " after " + t[ATTEMPTS] + " attempts" : "")));
    if (t[TAIL].length) div.appendChild(el("pre", t[TAIL].join("\n")));
    failures.appendChild(div); shown++;
  });
  if (bad.length > shown) failures.appendChild(el("p", "and " + num(bad.length - shown) + " more", "dim"));
  if (!bad.length) failures.appendChild(el("p", "none", "ok"));

  var jobs = document.getElementById("jobs"), head = el("tr");
  ["job", "tasks", "failed", "median", "largest", "largest ÷ median", "products"].forEach(function (h) { head.appendChild(el("th", h)); });
  jobs.appendChild(head);
  d.jobs.forEach(function (name, j) {
    var mine = T.filter(function (t) { return t[JOB] === j; });
    if (!mine.length) return;
    var times = mine.filter(function (t) { return t[START] !== null; }).map(function (t) { return t[DUR]; }).sort(function (a, b) { return a - b; });
    var median = times.length ? times[Math.floor((times.length - 1) / 2)] : 0, most = times.length ? times[times.length - 1] : 0;
    var row = el("tr");
    // Products committed, and their bytes.
    var made = mine.filter(function (t) { return t[PRODUCT] !== null && t[PRODUCT] !== undefined; });
    var bytes = made.reduce(function (sum, t) { return sum + t[PRODUCT]; }, 0);
    var products = made.length ? num(made.length) + " (" + num(bytes) + " bytes)" : "–";
    [name, num(mine.length), num(mine.filter(failed).length), fmt(median), fmt(most), median ? (most / median).toFixed(1) + "×" : "–", products].forEach(function (v, k) {
      row.appendChild(el("td", v, k ? "n" : ""));
    });
    jobs.appendChild(row);
  });

  var slowest = document.getElementById("slowest");
  ran.slice().sort(function (a, b) { return T[b][DUR] - T[a][DUR]; }).slice(0, 10).forEach(function (i) {
    var row = el("tr"); row.appendChild(el("td", T[i][LABEL])); row.appendChild(el("td", fmt(T[i][DUR]), "n")); row.appendChild(el("td", T[i][STATUS]));
    slowest.appendChild(row);
  });
})();
</script>
</body></html>
"##;
