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
    var config = isStatic ? { staticPlot: true, displayModeBar: false } : CONFIG;
    el.dataset.drawn = "1";
    window.Plotly.react(el, fig.data || [], themed(layout), config);
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
