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
    addMessage("assistant", answer.textContent);
    addMessage("user", "");
    button.disabled = true;
  }

  function useModel(button) {
    var inputs = $all("#pg-columns input[name=model]");
    var input = inputs[Number(button.dataset.column)] || inputs[0];
    if (input) { input.value = button.dataset.model; input.focus(); }
  }

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
  document.addEventListener("DOMContentLoaded", showSchema);
  showSchema();
})();
