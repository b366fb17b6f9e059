/* "Add a line" in place on /edits/check. Without JavaScript the button posts the form back and the
 * server adds the row; with it, the last row is copied (emptied), numbered and focused here. */
(function () {
  "use strict";
  var button = document.getElementById("edits-add");
  var body = document.getElementById("edits-rows");
  var count = document.getElementById("edits-row-count");
  if (!button || !body || !count) return;
  var max = parseInt(body.getAttribute("data-max"), 10) || 50;
  button.addEventListener("click", function (event) {
    var rows = body.querySelectorAll("tr");
    if (!rows.length || rows.length >= max) return;  // let the server say so
    event.preventDefault();
    var n = rows.length;
    var row = rows[rows.length - 1].cloneNode(true);
    row.className = "row";
    row.querySelector("th").textContent = String(n + 1);
    var inputs = row.querySelectorAll("input");
    for (var k = 0; k < inputs.length; k++) {
      var input = inputs[k];
      input.name = input.name.replace(/_\d+$/, "_" + n);
      input.value = "";
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
      input.setAttribute("aria-label", input.getAttribute("aria-label").replace(/^Line \d+/, "Line " + (n + 1)));
    }
    body.appendChild(row);
    count.value = String(n + 1);
    inputs[0].focus();
  });
})();
