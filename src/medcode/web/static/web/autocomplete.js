/* Autocomplete for the header search box: an ARIA 1.2 combobox over a listbox.
 *
 * Plain JavaScript with no dependency (no htmx: nothing is fetched from a CDN, and the keyboard
 * handling of a combobox needs script of its own anyway). Without JavaScript the box is an ordinary
 * GET form to /search. While typing (debounced), it fetches /search/suggest?q=..., an HTML fragment
 * of <li role="option" data-href="..."> items rendered and escaped by the server.
 * Keys: ArrowDown / ArrowUp move through the suggestions, Enter opens the one selected (or submits
 * the form when none is), Escape closes the list. A click opens a suggestion too.
 */
(function () {
  "use strict";
  var input = document.getElementById("site-q");
  if (!input || !window.fetch) return;
  var list = document.getElementById(input.getAttribute("aria-controls"));
  var url = input.getAttribute("data-suggest");
  var timer = null, active = -1, seq = 0, lastQuery = null;

  function options() { return list.querySelectorAll('[role="option"]'); }

  function close() {
    seq++;  // drop any answer still on its way
    list.hidden = true;
    list.innerHTML = "";
    lastQuery = null;
    active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function select(i) {
    var opts = options();
    if (!opts.length) return;
    active = Math.max(0, Math.min(i, opts.length - 1));
    for (var k = 0; k < opts.length; k++) opts[k].setAttribute("aria-selected", k === active ? "true" : "false");
    input.setAttribute("aria-activedescendant", opts[active].id);
    opts[active].scrollIntoView({block: "nearest"});
  }

  function open(option) {
    var href = option && option.getAttribute("data-href");
    if (href) window.location.assign(href);
  }

  function load() {
    var q = input.value.trim();
    if (q.length < 2) { close(); return; }
    if (q === lastQuery && !list.hidden) return;
    var mine = ++seq;
    fetch(url + "?q=" + encodeURIComponent(q), {headers: {"Accept": "text/html"}})
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        if (mine !== seq) return;
        list.innerHTML = html;
        active = -1;
        input.removeAttribute("aria-activedescendant");
        if (!options().length) { close(); return; }
        lastQuery = q;
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
      })
      .catch(function () { if (mine === seq) close(); });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(load, 150);
  });

  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown") {
      e.preventDefault();
      if (list.hidden) { clearTimeout(timer); load(); } else select(active + 1);
    } else if (e.key === "ArrowUp") {
      if (!list.hidden) { e.preventDefault(); select(active - 1); }
    } else if (e.key === "Enter") {
      if (!list.hidden && active >= 0) { e.preventDefault(); open(options()[active]); }
    } else if (e.key === "Escape") {
      if (!list.hidden) { e.preventDefault(); close(); }
    }
  });

  list.addEventListener("mousedown", function (e) { e.preventDefault(); });  // keep the focus in the box
  list.addEventListener("click", function (e) {
    var o = e.target.closest('[role="option"]');
    if (o) open(o);
  });
  input.addEventListener("blur", function () { clearTimeout(timer); close(); });
})();
