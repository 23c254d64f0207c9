// Keeps pages that show unfinished batches current: every 2 s the element #live is replaced by
// a fresh copy from its data-refresh URL (a server-rendered, escaped fragment). The server
// leaves data-refresh off once everything shown is terminal, which ends the loop.
(function () {
  "use strict";
  var INTERVAL_MS = 2000;

  function schedule(delay) {
    var live = document.getElementById("live");
    if (live && live.dataset.refresh) {
      window.setTimeout(function () { refresh(live); }, delay);
    }
  }

  function refresh(live) {
    fetch(live.dataset.refresh, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.redirected || (response.status >= 400 && response.status < 500)) {
          window.location.reload(); // signed out, or the page is gone: show what the server says
          return null;
        }
        return response.ok ? response.text() : "";
      })
      .then(function (html) {
        if (html === null) return;
        var holder = document.createElement("template");
        holder.innerHTML = html.trim();
        var fresh = holder.content.firstElementChild;
        if (fresh && fresh.id === "live") live.replaceWith(fresh);
        schedule(fresh ? INTERVAL_MS : INTERVAL_MS * 2);
      })
      .catch(function () { schedule(INTERVAL_MS * 2); }); // server restarting: keep trying
  }

  document.addEventListener("DOMContentLoaded", function () { schedule(INTERVAL_MS); });
})();
