// Operator console behaviour. Loaded with `defer` on every console page; no inline code
// anywhere (the console's CSP forbids it), so pages opt in with data attributes:
//
//   <form data-confirm="Delete this thread?">   asks before submitting (also on a submit
//   <button data-confirm="...">                 button, for forms with several actions)
//   <select data-autosubmit>                     submits its form when changed (filters)
//   <button data-copy="text">                    copies the text; data-copy-from="#id"
//                                                copies that element's text instead
//   <button data-details="open|close"            opens or closes every <details> inside
//           data-details-scope="#id">            the scope (default: the page)
//   <time datetime="..." data-relative>          shows "5 min ago", full local time on hover
//   <input data-search>                          "/" focuses it
//   Ctrl/Cmd+Enter in a textarea submits its form.
(function () {
  "use strict";

  function confirmed(element) {
    var message = element.getAttribute("data-confirm");
    return !message || window.confirm(message);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    if (submitter && submitter.hasAttribute("data-confirm")) {
      if (!confirmed(submitter)) event.preventDefault();
      return;
    }
    if (form.hasAttribute && form.hasAttribute("data-confirm") && !confirmed(form)) {
      event.preventDefault();
    }
  }, true); // capture: decided before any other submit handler runs

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.hasAttribute && field.hasAttribute("data-autosubmit") && field.form) {
      if (field.form.requestSubmit) field.form.requestSubmit();
      else field.form.submit();
    }
  });

  function flashLabel(button, text) {
    var original = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", original);
    button.textContent = text;
    button.classList.add("is-done");
    window.setTimeout(function () {
      button.textContent = original;
      button.classList.remove("is-done");
    }, 1500);
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain-http consoles (a LAN address) have no clipboard API: fall back to a selection.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "copy-buffer";
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      document.body.removeChild(area);
      if (ok) resolve(); else reject(new Error("copy refused"));
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy], [data-copy-from], [data-details]") : null;
    if (!button) return;
    if (button.hasAttribute("data-details")) {
      var scope = document.querySelector(button.getAttribute("data-details-scope") || "body");
      var open = button.getAttribute("data-details") === "open";
      if (scope) {
        scope.querySelectorAll("details").forEach(function (details) { details.open = open; });
      }
      return;
    }
    event.preventDefault();
    var text = button.getAttribute("data-copy");
    var from = button.getAttribute("data-copy-from");
    if (from) {
      var source = document.querySelector(from);
      text = source ? source.textContent : "";
    }
    copyText(text || "").then(
      function () { flashLabel(button, "Copied"); },
      function () { flashLabel(button, "Copy failed"); }
    );
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.tagName === "TEXTAREA" && target.form) {
      event.preventDefault();
      if (target.form.requestSubmit) target.form.requestSubmit();
      else target.form.submit();
      return;
    }
    if (event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey) {
      var typing = target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
      var search = document.querySelector("[data-search]");
      if (!typing && search) {
        event.preventDefault();
        search.focus();
        if (search.select) search.select();
      }
    }
  });

  var units = [
    ["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
    ["hour", 3600], ["minute", 60], ["second", 1]
  ];
  var relative = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" }) : null;
  var absolute = window.Intl ? new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" }) : null;

  function refreshTimes() {
    var now = Date.now();
    document.querySelectorAll("time[data-relative]").forEach(function (time) {
      var at = Date.parse(time.getAttribute("datetime"));
      if (isNaN(at)) return;
      if (absolute && !time.hasAttribute("title")) time.setAttribute("title", absolute.format(at));
      if (!relative) return;
      var seconds = (at - now) / 1000;
      for (var i = 0; i < units.length; i++) {
        if (Math.abs(seconds) >= units[i][1] || units[i][1] === 1) {
          time.textContent = relative.format(Math.round(seconds / units[i][1]), units[i][0]);
          break;
        }
      }
    });
  }

  refreshTimes();
  window.setInterval(refreshTimes, 30000);
})();
