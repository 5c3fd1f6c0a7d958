// The overview refreshes itself: every data-refresh seconds it asks /ui/overview.json for the
// same section rendered again and puts it in place. Served by the daemon; no other script.
(function () {
  "use strict";
  var box = document.getElementById("overview");
  if (!box) return;
  var every = Math.max(2, parseInt(box.getAttribute("data-refresh"), 10) || 10) * 1000;
  var stamp = document.getElementById("refreshed");
  function editing() {
    var active = document.activeElement;
    return active && box.contains(active) && /INPUT|SELECT|TEXTAREA/.test(active.tagName);
  }
  function refresh() {
    if (editing()) { setTimeout(refresh, every); return; }
    fetch(box.getAttribute("data-source"), {credentials: "same-origin", cache: "no-store"})
      .then(function (response) {
        if (response.status === 401) { window.location.assign("/ui/login"); return null; }
        return response.ok ? response.json() : null;
      })
      .then(function (answer) {
        if (answer) {
          box.innerHTML = answer.fragment;
          if (stamp) stamp.textContent = answer.counts.now.slice(0, 19).replace("T", " ");
          box.setAttribute("data-refreshed", answer.counts.now);
        }
      })
      .catch(function () {})
      .then(function () { setTimeout(refresh, every); });
  }
  setTimeout(refresh, every);
})();
