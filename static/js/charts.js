// relaydash: draws the Plotly figures the server put in data-figure attributes (JSON from
// blueprints/usage/charts.py). No inline script and no eval: strict CSP. Load after plotly-basic.
(function () {
  "use strict";

  var SELECTOR = "[data-figure]";
  var CONFIG = {
    responsive: true,
    displaylogo: false,
    // toImage draws through a blob: image, which our CSP (img-src 'self' data:) blocks.
    modeBarButtonsToRemove: ["toImage", "select2d", "lasso2d", "autoScale2d", "toggleSpikelines",
      "hoverClosestCartesian", "hoverCompareCartesian"]
  };
  // Chinese pages load the vendored zh-CN locale (dates, modebar); others stay English.
  var LOCALE = /^zh/i.test(document.documentElement.lang || "") ? "zh-CN" : null;
  var DAY = 86400000;
  // Plotly's zh-CN short months read "十二 7, 2026": Chinese date axes without a format of
  // their own get "12月7日" and "%H:%M / 12月7日" instead (usage and status alike).
  var ZH_TICKS = [
    { dtickrange: [null, DAY / 2], value: "%H:%M\n%-m月%-d日" },
    { dtickrange: [DAY / 2 + 1, "M1"], value: "%-m月%-d日" },
    { dtickrange: ["M1", "M12"], value: "%Y年%-m月" },
    { dtickrange: ["M12", null], value: "%Y年" }
  ];
  function chineseDates(layout) {
    if (!LOCALE) return layout;
    Object.keys(layout).forEach(function (name) {
      var axis = layout[name];
      if (!/^xaxis\d*$/.test(name) || !axis || axis.type !== "date") return;
      if (!axis.tickformat && !axis.tickformatstops) axis.tickformatstops = ZH_TICKS;
    });
    return layout;
  }
  var dark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  var lazy = "IntersectionObserver" in window
    ? new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) { lazy.unobserve(entry.target); draw(entry.target); }
      });
    }, { rootMargin: "200px" })
    : null;

  // Colours follow the page's CSS variables (app.css switches them for dark mode).
  function palette() {
    var css = getComputedStyle(document.documentElement);
    var isDark = !!(dark && dark.matches);
    function pick(name, fallback) { return (css.getPropertyValue(name) || "").trim() || fallback; }
    return {
      text: pick("--muted", isDark ? "#9aa3b2" : "#636b78"),
      line: pick("--line", isDark ? "#2a2f3a" : "#e3e6eb"),
      panel: pick("--panel", isDark ? "#171a21" : "#ffffff"),
      ink: pick("--text", isDark ? "#e7e9ee" : "#16181d")
    };
  }

  function themed(layout) {
    var c = palette();
    var out = Object.assign({}, layout);
    out.font = Object.assign({ family: "inherit", size: 12 }, layout.font, { color: c.text });
    out.hoverlabel = Object.assign({}, layout.hoverlabel,
      { bgcolor: c.panel, bordercolor: c.line, font: { color: c.ink } });
    out.legend = Object.assign({}, layout.legend, { bgcolor: "rgba(0,0,0,0)" });
    Object.keys(layout).forEach(function (name) {
      if (!/^[xy]axis\d*$/.test(name)) return;
      out[name] = Object.assign({}, layout[name],
        { gridcolor: c.line, linecolor: c.line, zerolinecolor: c.line, tickcolor: c.line });
    });
    if (!out.yaxis) out.yaxis = { gridcolor: c.line, zerolinecolor: c.line };
    return out;
  }

  function dateOf(x) {
    var t = typeof x === "string" ? Date.parse(x.length === 10 ? x + "T00:00:00" : x) : NaN;
    return isNaN(t) ? null : t;
  }

  function isoLocal(ms) {
    var d = new Date(ms), pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  // Figures with one point or one day: a lone point gets a marker (a line of one point is
  // invisible), and an x axis of one instant a span around it (Plotly's autorange of one date
  // reads 23:59:59.9996 … 00:00:00.0004). Figures that set a range themselves are left alone.
  function sensible(data, layout) {
    var xs = {}, hasBar = false, out = Object.assign({}, layout);
    var traces = data.map(function (trace) {
      var x = trace.x || [];
      x.forEach(function (v) { xs[String(v)] = v; });
      if (trace.type === "bar") hasBar = true;
      var lone = (trace.type || "scatter") === "scatter" && x.length === 1 &&
        (!trace.mode || trace.mode.indexOf("markers") < 0);
      return lone ? Object.assign({}, trace, { mode: (trace.mode ? trace.mode + "+" : "") + "markers" }) : trace;
    });
    var values = Object.keys(xs).map(function (k) { return xs[k]; });
    var axis = layout.xaxis || {};
    if (values.length === 1 && !axis.range && axis.type !== "category") {
      var at = dateOf(values[0]);
      if (at !== null) {
        var pad = hasBar ? 1.5 * DAY : 3 * 3600000;
        out.xaxis = Object.assign({}, axis, { range: [isoLocal(at - pad), isoLocal(at + pad)] });
      }
    }
    var marks = zeroMarks(traces, out);
    // Plotly shows a legend from two traces on: the marks must not make one appear.
    if (marks.length && traces.length === 1 && out.showlegend === undefined) out.showlegend = false;
    return { data: traces.concat(marks), layout: out };
  }

  // A bar of 0 (no spend, 0 % uptime) has no height: mark it on the baseline, so a known zero
  // does not look like a day without data.
  function zeroMarks(traces, layout) {
    var totals = {}, colour = {};
    traces.forEach(function (trace, i) {
      if (trace.type !== "bar" || trace.orientation === "h" || !trace.x || !trace.y) return;
      var axes = (trace.xaxis || "x") + "|" + (trace.yaxis || "y");
      trace.x.forEach(function (x, j) {
        var key = axes + "|" + String(x), y = trace.y[j];
        if (typeof y !== "number") return;
        totals[key] = (totals[key] || 0) + Math.abs(y);
        if (!(key in colour)) {
          var m = trace.marker && trace.marker.color;
          colour[key] = (Array.isArray(m) ? m[j] : m) || (layout.colorway || [])[i] || "#64748b";
        }
      });
    });
    var marks = {};
    Object.keys(totals).forEach(function (key) {
      if (totals[key] !== 0) return;
      var parts = key.split("|"), axes = parts[0] + "|" + parts[1];
      var mark = marks[axes] || (marks[axes] = {
        type: "scatter", mode: "markers", x: [], y: [], xaxis: parts[0], yaxis: parts[1],
        showlegend: false, hoverinfo: "skip", marker: { symbol: "line-ew", size: 14, color: [],
          line: { width: 3, color: [] } }
      });
      mark.x.push(parts.slice(2).join("|"));
      mark.y.push(0);
      mark.marker.color.push(colour[key]);
      mark.marker.line.color.push(colour[key]);
    });
    return Object.keys(marks).map(function (axes) { return marks[axes]; });
  }

  function figureOf(el) {
    if (!el._relayFigure) {
      try {
        el._relayFigure = JSON.parse(el.getAttribute("data-figure"));
      } catch (e) {
        el._relayFigure = null;
        if (window.console) console.warn("relaydash: bad chart JSON", e);
      }
    }
    return el._relayFigure;
  }

  function draw(el) {
    var fig = figureOf(el);
    if (!fig || !window.Plotly) return;
    var layout = fig.layout || {};
    var isStatic = !!(layout.meta && layout.meta.static);
    var config = Object.assign({}, isStatic ? { staticPlot: true, displayModeBar: false } : CONFIG);
    if (LOCALE) config.locale = LOCALE;
    var shown = sensible(fig.data || [], layout);
    el.dataset.drawn = "1";
    window.Plotly.react(el, shown.data, chineseDates(themed(shown.layout)), config);
  }

  function drawAll(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var found = Array.prototype.slice.call(scope.querySelectorAll(SELECTOR));
    if (scope.matches && scope.matches(SELECTOR)) found.push(scope);
    found.forEach(function (el) {
      if (el.dataset.drawn || el.dataset.queued) return;
      var fig = figureOf(el);
      // Sparklines come by the hundred in the overview table: draw them when they scroll in.
      if (lazy && fig && fig.layout && fig.layout.meta && fig.layout.meta.static) {
        el.dataset.queued = "1";
        lazy.observe(el);
      } else {
        draw(el);
      }
    });
  }

  function purge(el) {
    if (lazy) lazy.unobserve(el);
    if (el.dataset.drawn && window.Plotly) window.Plotly.purge(el);
    delete el.dataset.drawn;
    delete el.dataset.queued;
    el._relayFigure = null;
  }

  function redrawAll() {
    document.querySelectorAll(SELECTOR + "[data-drawn]").forEach(draw);
  }

  function start() { drawAll(document); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }

  // htmx removes swapped-out content through its cleanup, which fires this event on every removed
  // element (htmx:beforeSwap only names the target, not what innerHTML/outerHTML/oob will drop):
  // free Plotly's listeners and resize handlers of the charts that go.
  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    var el = event.target;
    if (el && el.matches && el.matches(SELECTOR)) purge(el);
  });
  document.addEventListener("htmx:afterSwap", function (event) { drawAll(event.detail && event.detail.elt); });
  document.addEventListener("htmx:load", function (event) { drawAll(event.detail && event.detail.elt); });

  if (dark) {
    var onChange = function () { redrawAll(); };
    if (dark.addEventListener) dark.addEventListener("change", onChange);
    else if (dark.addListener) dark.addListener(onChange);
  }
})();
