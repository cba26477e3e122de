// relaydash playground: conversation rows, compare columns, presets, run state. No inline JS (CSP).
(function () {
  "use strict";

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  function fromTemplate(id, index) {
    var template = document.getElementById(id);
    var html = template.innerHTML.split("__i__").join(String(index));
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    return holder.firstElementChild;
  }

  // Column override fields are named "temperature@<index>": keep indexes in column order.
  function renumberColumns() {
    $all("#pg-columns [data-column]").forEach(function (column, index) {
      $all("input[name*='@']", column).forEach(function (input) {
        input.name = input.name.split("@")[0] + "@" + index;
      });
    });
  }

  function addColumn() {
    var box = $("#pg-columns");
    var count = $all("[data-column]", box).length;
    if (count >= Number(box.dataset.max || 4)) return;
    var column = fromTemplate("pg-column-template", count);
    box.appendChild(column);
    htmx.process(column);
    $("input[name=model]", column).focus();
  }

  function addMessage(role, content) {
    var row = fromTemplate("pg-message-template", 0);
    $("select[name=role]", row).value = role || "user";
    $("textarea[name=content]", row).value = content || "";
    $("#pg-messages").appendChild(row);
    return row;
  }

  function retryLast() {
    var rows = $all("#pg-messages [data-message]");
    var last = rows[rows.length - 1];
    if (last && $("select[name=role]", last).value === "assistant" && rows.length > 1) last.remove();
    $("#pg-form").requestSubmit();
  }

  function applyPreset(button) {
    var preset = JSON.parse(button.dataset.preset);
    $("#pg-system").value = preset.system || "";
    $all("#pg-messages [data-message]").forEach(function (row) { row.remove(); });
    addMessage("user", preset.user || "");
    var model = $("#pg-columns input[name=model]");
    if (model && !model.value) model.value = preset.model || "";
    var spec = preset.response_format.json_schema;
    $("#pg-format").value = "json_schema";
    $("#pg-schema-name").value = spec.name;
    $("input[name=schema_strict]").checked = !!spec.strict;
    $("#pg-schema").value = JSON.stringify(spec.schema, null, 2);
    showSchema();
  }

  function showSchema() {
    var format = $("#pg-format");
    if (!format) return;
    var on = format.value === "json_schema";
    $all("[data-pg-schema]").forEach(function (field) { field.hidden = !on; });
  }

  function keepAnswer(button) {
    var answer = $("[data-testid=answer-" + button.dataset.column + "]");
    if (!answer) return;
    // The model's own text, not the indented copy shown for JSON answers.
    addMessage("assistant", answer.hasAttribute("data-raw") ? answer.dataset.raw : answer.textContent);
    addMessage("user", "");
    button.disabled = true;
  }

  function useModel(button) {
    var inputs = $all("#pg-columns input[name=model]");
    var input = inputs[Number(button.dataset.column)] || inputs[0];
    if (input) { input.value = button.dataset.model; input.focus(); }
  }

  // View code opens in a drawer over the settings; the run beside it keeps its output.
  function drawer() { return document.getElementById("pg-code"); }
  function closeCode() {
    var box = drawer();
    if (!box || !box.open) return;
    box.close();
    var opener = $("[data-testid=view-code]");
    if (opener) opener.focus();
  }
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target) return;
    if (target.id === "pg-code-body") {
      var box = drawer();
      if (!box.open) box.show();
      box.scrollTop = 0;
      $("[data-pg=close-code]", box).focus();
    }
    if (target.id === "pg-out") bringIntoView($("[data-run]", target));
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeCode();
  });

  // A new run's answers start where the eye is: scroll only if the run starts off screen.
  function bringIntoView(run) {
    if (!run) return;
    var top = run.getBoundingClientRect().top;
    if (top >= 0 && top < window.innerHeight * 0.6) return;
    var calm = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    run.scrollIntoView({ block: "start", behavior: calm ? "auto" : "smooth" });
  }

  // Wide screens show every setting in the side panel; phones fold parameters away.
  var wide = window.matchMedia("(min-width: 900px)");
  function fitSettings() {
    var more = $("[data-pg-more]");
    if (more) more.open = wide.matches;
  }
  if (wide.addEventListener) wide.addEventListener("change", fitSettings);

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-pg]");
    if (!target) return;
    var action = target.dataset.pg;
    if (action === "add-column") addColumn();
    if (action === "remove-column") {
      if ($all("#pg-columns [data-column]").length > 1) target.closest("[data-column]").remove();
      renumberColumns();
    }
    if (action === "add-message") $("textarea", addMessage("user", "")).focus();
    if (action === "delete-message") {
      if ($all("#pg-messages [data-message]").length > 1) target.closest("[data-message]").remove();
      else $("textarea", target.closest("[data-message]")).value = "";
    }
    if (action === "retry") retryLast();
    if (action === "preset") applyPreset(target);
    if (action === "keep-answer") keepAnswer(target);
    if (action === "use-model") useModel(target);
    if (action === "close-code") closeCode();
  });

  document.addEventListener("change", function (event) {
    if (event.target.id === "pg-format") showSchema();
    // A new key or provider: refresh the model list (the key goes in a POST body, never a URL).
    if (event.target.hasAttribute && event.target.hasAttribute("data-models-trigger")) {
      var source = event.target.name === "key_id" ? "tracked" : "pasted";
      var radio = $("input[name=source][value=" + source + "]");
      if (radio) radio.checked = true;
      var load = $("[data-testid=load-models]");
      if (load && (source === "tracked" || $("input[name=key]").value)) load.click();
    }
  });

  // How the run ended: the server's "outcome" event (ok, partial, failed, stopped), swapped into
  // the run's hidden [data-run-outcome] just before "done"; none came = the stream broke.
  var MARKS = { ok: "✓ ", partial: "⚠ ", failed: "✗ ", stopped: "■ " };
  function finish(run) {
    if (!run || run.dataset.finished) return;
    run.dataset.finished = "1";
    var said = $("[data-run-outcome]", run);
    var outcome = said ? said.textContent.trim() : "";
    outcome = MARKS[outcome] ? outcome : "failed";
    var state = $("[data-testid=run-state]", run);
    if (state) {
      var words = { ok: state.dataset.finished, partial: state.dataset.partial,
                    failed: state.dataset.failed, stopped: state.dataset.stopped };
      state.textContent = MARKS[outcome] + words[outcome];
      state.dataset.outcome = outcome;
    }
    var stop = $("[data-testid=stop]", run);
    if (stop) stop.hidden = true;
    $all("[data-answer]", run).forEach(prettyJson);
  }

  // Re-indents valid JSON token by token: numbers and strings keep their exact spelling
  // (JSON.stringify would round big integers).
  function indentJson(text) {
    var out = "";
    var depth = 0;
    var pad = function () { return "\n" + new Array(depth + 1).join("  "); };
    for (var i = 0; i < text.length; i++) {
      var c = text.charAt(i);
      if (c === "\"") {
        var end = i + 1;
        while (text.charAt(end) !== "\"") end += text.charAt(end) === "\\" ? 2 : 1;
        out += text.slice(i, end + 1);
        i = end;
      } else if (c === "{" || c === "[") {
        var j = i + 1;
        while (/\s/.test(text.charAt(j))) j += 1;
        if (text.charAt(j) === "}" || text.charAt(j) === "]") {
          out += c + text.charAt(j);
          i = j;
        } else {
          depth += 1;
          out += c + pad();
        }
      } else if (c === "}" || c === "]") {
        depth -= 1;
        out += pad() + c;
      } else if (c === ",") {
        out += "," + pad();
      } else if (c === ":") {
        out += ": ";
      } else if (!/\s/.test(c)) {
        out += c;
      }
    }
    return out;
  }

  // A JSON object or array answer is shown indented; any other text is left exactly as sent.
  function prettyJson(answer) {
    var text = answer.textContent;
    var start = text.trim().charAt(0);
    if (start !== "{" && start !== "[") return;
    try { JSON.parse(text); } catch (e) { return; }
    var pretty = indentJson(text.trim());
    if (pretty === text) return;
    answer.dataset.raw = text;
    answer.textContent = pretty;
    answer.classList.add("run__text--json");
  }
  document.body.addEventListener("htmx:sseMessage", function (event) {
    if (event.detail && event.detail.type === "done") finish(event.target.closest("[data-run]"));
  });
  document.body.addEventListener("htmx:sseClose", function (event) {
    finish(event.target.closest ? event.target.closest("[data-run]") : null);
  });
  // A run's stream works once: after any error there is nothing to reconnect to.
  document.body.addEventListener("htmx:sseError", function (event) {
    var run = event.target.closest ? event.target.closest("[data-run]") : null;
    if (!run) return;
    run.removeAttribute("sse-connect");
    if (event.detail && event.detail.source) event.detail.source.close();
    finish(run);
  });
  document.addEventListener("DOMContentLoaded", function () { showSchema(); fitSettings(); });
  showSchema();
  fitSettings();
})();
