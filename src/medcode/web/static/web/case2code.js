// Case to code page: keep the final list in step with the accept/reject checkboxes, grey out the
// evidence of rejected codes, and copy the list. Everything is readable without this script.
(function () {
  "use strict";
  var list = document.getElementById("final-list");
  var boxes = Array.prototype.slice.call(document.querySelectorAll("#c2c-suggestions input.accept"));
  var marks = Array.prototype.slice.call(document.querySelectorAll("#c2c-note-text mark.ev"));
  var copy = document.getElementById("copy-list");
  var status = document.getElementById("copy-status");
  if (!list || !boxes.length) { return; }

  function accepted() {
    var out = {};
    boxes.forEach(function (b) { if (b.checked) { out[b.value] = true; } });
    return out;
  }

  function refresh() {
    var keep = accepted();
    list.value = boxes.filter(function (b) { return b.checked; })
      .map(function (b) { return b.value + " " + (b.getAttribute("data-title") || ""); }).join("\n");
    boxes.forEach(function (b) {
      var li = b.closest("li");
      if (li) { li.classList.toggle("rejected", !b.checked); }
    });
    marks.forEach(function (m) {
      var codes = (m.getAttribute("data-codes") || "").split(" ");
      var live = codes.some(function (c) { return keep[c]; });
      m.classList.toggle("rejected", !live);
    });
  }

  function focusMarks(code, on) {
    marks.forEach(function (m) {
      var codes = (m.getAttribute("data-codes") || "").split(" ");
      if (codes.indexOf(code) >= 0) { m.classList.toggle("focus", on); }
    });
  }

  boxes.forEach(function (b) {
    b.addEventListener("change", refresh);
    var li = b.closest("li");
    if (li) {
      li.addEventListener("mouseenter", function () { focusMarks(b.value, true); });
      li.addEventListener("mouseleave", function () { focusMarks(b.value, false); });
      b.addEventListener("focus", function () { focusMarks(b.value, true); });
      b.addEventListener("blur", function () { focusMarks(b.value, false); });
    }
  });

  if (copy) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      var text = list.value;
      function done(ok) { if (status) { status.textContent = ok ? "Copied." : "Select the list and copy it."; } }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(function () { done(true); }, function () {
          list.select(); done(document.execCommand && document.execCommand("copy"));
        });
      } else {
        list.select();
        done(document.execCommand && document.execCommand("copy"));
      }
    });
  }
  refresh();
})();
