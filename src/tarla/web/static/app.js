// Tarla: small progressive enhancements (no inline scripts: the CSP forbids them).
(function () {
  "use strict";
  // Live countdowns: <span class="countdown" data-deadline="ISO8601">...</span>
  function fmt(ms, lateWord) {
    var late = ms < 0, s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    var t = (d ? d + " d " : "") + (d || h ? h + " h " : "") + m + " min";
    if (!late) { return t + " left"; }
    return lateWord === "expired" ? "EXPIRED " + t + " ago" : "overdue by " + t;
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
      var ms = Date.parse(el.getAttribute("data-deadline")) - now;
      if (isNaN(ms)) { return; }
      el.textContent = fmt(ms, el.getAttribute("data-late"));
      el.classList.toggle("late", ms < 0);
    });
  }
  // Scanner keyboard wedge: Ctrl+] is how many scanners type the GS1 separator (ASCII 29).
  function wedge(ev) {
    var el = ev.target;
    if (!el.classList || !el.classList.contains("scan-input")) { return; }
    if (ev.ctrlKey && (ev.key === "]" || ev.code === "BracketRight")) {
      ev.preventDefault();
      var s = el.selectionStart, e = el.selectionEnd;
      el.value = el.value.slice(0, s) + "\u001d" + el.value.slice(e);
      el.selectionStart = el.selectionEnd = s + 1;
    }
  }
  document.addEventListener("keydown", wedge, true);
  // Bedside scans: a wedge scanner types the barcode then Enter. In a field that names the
  // next one (data-enter-next="id"), Enter moves on instead of submitting the form.
  document.addEventListener("keydown", function (ev) {
    var el = ev.target, next = el && el.getAttribute && el.getAttribute("data-enter-next");
    if (!next || ev.key !== "Enter") { return; }
    var target = document.getElementById(next);
    if (!target) { return; }
    ev.preventDefault();
    target.focus();
    if (target.select) { target.select(); }
  }, true);
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);
  setInterval(tick, 15000);
  // Re-focus (and clear) the scan field after each scan result.
  document.addEventListener("htmx:afterSwap", function (ev) {
    var t = ev.detail && ev.detail.target;
    if (!t || t.id !== "scan-result") { return; }
    var f = document.querySelector(".scan-input");
    if (f) { f.value = ""; f.focus(); }
  });
})();
