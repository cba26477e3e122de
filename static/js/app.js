// relaydash: small progressive enhancements. No inline JS anywhere (strict CSP).
(function () {
  "use strict";

  // Server-rendered times and per-day sums follow the viewer's time zone.
  var tz = "";
  try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { tz = ""; }
  if (tz) {
    // Zone names are cookie-safe as they are ("Asia/Shanghai"); the server also reads old
    // percent-encoded cookies.
    var value = /^[A-Za-z0-9_+\-\/]+$/.test(tz) ? tz : encodeURIComponent(tz);
    document.cookie = "tz=" + value + "; path=/; max-age=31536000; samesite=lax";
  }
  function fillTz(root) {
    root.querySelectorAll("[data-tz]").forEach(function (input) { input.value = tz; });
  }
  fillTz(document);
  document.addEventListener("htmx:load", function (event) { fillTz(event.detail.elt); });

  function csrfToken() {
    var field = document.querySelector("input[name=csrf_token]");
    return field ? field.value : "";
  }

  // Copy: data-copy is a selector, looked up inside the button's [data-copy-scope] when it has
  // one (a snippet shown in several places), else in the page. The Clipboard API in a secure
  // context, else a selected throw-away textarea; "copied" is said only when it worked.
  function copyText(button) {
    var scope = button.closest("[data-copy-scope]") || document;
    var source = scope.querySelector(button.dataset.copy);
    if (!source) return;
    var text = source.value || source.textContent;
    var done = function () {
      if (!button.dataset.label) button.dataset.label = button.textContent;
      button.textContent = button.dataset.copied || "✓";
      clearTimeout(button.copyTimer);
      button.copyTimer = setTimeout(function () { button.textContent = button.dataset.label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { if (legacyCopy(text)) done(); });
    } else if (legacyCopy(text)) {
      done();
    }
  }
  function legacyCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    area.remove();
    return copied;
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-copy],[data-reveal],[data-download]");
    if (!target) return;
    if (target.dataset.copy) copyText(target);
    if (target.dataset.download) download(target);
    if (target.dataset.reveal) {
      var input = document.querySelector(target.dataset.reveal);
      if (input) input.type = input.type === "password" ? "text" : "password";
    }
  });

  // A select whose options carry data-placeholder-N sets input N's placeholder (alert channel types).
  document.addEventListener("change", function (event) {
    var select = event.target.closest("select[data-placeholders]");
    if (!select) return;
    var option = select.options[select.selectedIndex];
    select.dataset.placeholders.split(" ").forEach(function (selector, i) {
      var input = document.querySelector(selector);
      var text = option && option.getAttribute("data-placeholder-" + i);
      if (input && text !== null) input.placeholder = text;
    });
  });

  // Batch: stream NDJSON rows into the table as each key finishes.
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-batch]");
    if (!form || !window.fetch || !window.TextDecoder) return;
    event.preventDefault();
    runBatch(form);
  });

  function runBatch(form) {
    var out = document.querySelector(form.dataset.batch);
    var busy = form.querySelector("[data-busy]");
    var button = form.querySelector("button[type=submit]");
    busy.classList.add("htmx-request");
    button.disabled = true;
    var finish = function () { busy.classList.remove("htmx-request"); button.disabled = false; };
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      // HX-Request: an error (a 429, an expired form) comes back as a card, not a whole page.
      headers: { "Accept": "application/x-ndjson", "X-CSRFToken": csrfToken(), "HX-Request": "true" }
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (!response.ok || type.indexOf("ndjson") < 0) {
        return response.text().then(function (html) { out.innerHTML = html; });
      }
      return readLines(response, function (message) { showBatch(out, form, message); });
    }).catch(function () {
      out.insertAdjacentHTML("beforeend", '<p class="card card--error" role="alert"></p>');
      out.lastElementChild.textContent = form.dataset.failed || "Failed";
    }).then(finish, finish);
  }

  function readLines(response, onLine) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.value) buffer += decoder.decode(chunk.value, { stream: true });
        var cut;
        while ((cut = buffer.indexOf("\n")) >= 0) {
          var line = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 1);
          if (line.trim()) onLine(JSON.parse(line));
        }
        return chunk.done ? null : pump();
      });
    }
    return pump();
  }

  function showBatch(out, form, message) {
    if (message.start) {
      out.innerHTML = message.html;
    } else if (message.done) {
      // The CSV button: a form posting the sealed table back (no worker keeps it).
      out.querySelector("[data-batch-foot]").innerHTML = message.html;
    } else {
      var row = document.getElementById("batch-row-" + message.i);
      if (row) row.outerHTML = message.html;
    }
  }

  // Polling tables refresh only while the tab is visible (and once when it comes back).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (document.hidden && elt.hasAttribute && elt.hasAttribute("data-poll-visible")) {
      event.preventDefault();
    }
  });

  // Key hygiene: nothing pasted survives leaving the page (back/forward cache included).
  window.addEventListener("pagehide", function () {
    document.querySelectorAll("input[type=password], input[name=key], textarea[name=keys]")
      .forEach(function (field) { field.value = ""; });
  });
})();
