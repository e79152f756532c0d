// Live parts of the console, loaded with `defer` on every console page. Without it the pages
// still work; with it:
//
//   [data-pending-count]        the navigation's count of waiting forms follows
//                               /admin/events (Server-Sent Events) on every page; it gets
//                               data-live="on" once the stream's first event arrived
//   [data-forms-queue]          the queue's list is fetched again and swapped in when the
//                               queue changes (same address, so the filters are kept)
//   [data-claim-renew="/url"    while the page is open, the operator's claim is renewed
//    data-csrf="token"]         (POST url with renew=1) before its 5-minute lease ends
(function () {
  "use strict";

  var badge = document.querySelector("[data-pending-count]");
  var queue = document.querySelector("[data-forms-queue]");

  function showCount(count) {
    if (!badge) return;
    badge.textContent = String(count);
    badge.hidden = count === 0;
  }

  var refreshing = false;
  var again = false;
  function refreshQueue() {
    if (!queue) return;
    if (refreshing) { again = true; return; }
    refreshing = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-forms-queue]");
        if (fresh) queue.innerHTML = fresh.innerHTML;
      })
      .catch(function () { /* the next event tries again */ })
      .then(function () {
        refreshing = false;
        if (again) { again = false; refreshQueue(); }
      });
  }

  // One stream per open page. It is closed when the page is left: a page kept for "back"
  // would otherwise hold one of the browser's few connections to the console.
  var events = null;
  var seen = false;
  function connect() {
    if (!badge || !window.EventSource || events) return;
    events = new EventSource("/admin/events");
    events.addEventListener("forms", function (event) {
      var data = {};
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (typeof data.pending === "number") showCount(data.pending);
      // The first event says how things are now: the page was drawn just before it.
      if (seen) refreshQueue();
      seen = true;
      badge.setAttribute("data-live", "on");
    });
  }
  window.addEventListener("pagehide", function () {
    if (events) { events.close(); events = null; }
  });
  window.addEventListener("pageshow", function (event) {
    // Back from the cache: the queue may have moved meanwhile.
    if (event.persisted) { seen = true; connect(); }
  });
  connect();

  var claim = document.querySelector("[data-claim-renew]");
  if (claim) {
    var renew = function () {
      var body = new URLSearchParams();
      body.set("csrf_token", claim.getAttribute("data-csrf") || "");
      body.set("renew", "1");
      fetch(claim.getAttribute("data-claim-renew"), { method: "POST", credentials: "same-origin", body: body })
        .catch(function () { /* the lease simply runs out */ });
    };
    window.setInterval(renew, 120000);
  }
})();
