/* The chat page, progressively enhanced: the form still works without this (a plain POST).
   With it, the question goes to the streaming endpoint (fetch + ReadableStream, server-sent events):
   the answer's text appears as it is written, then the server's rendered answer (sources, codes)
   takes its place. Example questions fill the box and ask at once. No dependencies. */
(function () {
  "use strict";
  var form = document.getElementById("ask-form");
  if (!form || !window.fetch || !window.TextDecoder || !window.ReadableStream) return;
  var answers = document.getElementById("answers");
  var problem = document.getElementById("ask-problem");
  var statusEl = document.getElementById("ask-status");
  var box = form.querySelector("textarea[name=question]");
  var convField = form.querySelector("input[name=conversation]");
  var button = form.querySelector("button[type=submit]");
  var busy = false;

  function setBusy(on, message) {
    busy = on;
    button.disabled = on;
    statusEl.textContent = message || "";
  }

  function showProblem(html, text) {
    problem.textContent = "";
    if (html) {
      problem.innerHTML = html;  /* rendered (escaped) by the server */
    } else {
      var p = document.createElement("p");
      p.className = "problem";
      p.textContent = text;
      problem.appendChild(p);
    }
  }

  function addConversation(doc) {
    var list = document.getElementById("conversation-list");
    var none = document.getElementById("no-conversations");
    if (!list) return;
    if (none) none.remove();
    var li = document.createElement("li");
    var a = document.createElement("a");
    a.href = doc.url;
    a.textContent = doc.title;
    a.setAttribute("aria-current", "page");
    li.appendChild(a);
    list.insertBefore(li, list.firstChild);
  }

  function parseEvent(block) {
    var name = "message", data = [];
    block.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) name = line.slice(6).trim();
      else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
    });
    if (!data.length) return null;
    try { return {name: name, data: JSON.parse(data.join("\n"))}; } catch (e) { return null; }
  }

  async function ask(question) {
    problem.textContent = "";
    setBusy(true, "Answering…");
    var article = document.createElement("article");
    article.className = "exchange pending";
    var heading = document.createElement("h2");
    heading.className = "q";
    heading.textContent = question;
    var live = document.createElement("div");
    live.className = "answer streaming";
    live.setAttribute("aria-busy", "true");
    article.appendChild(heading);
    article.appendChild(live);
    answers.appendChild(article);

    var response;
    try {
      response = await fetch(form.dataset.streamUrl, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: {"Accept": "text/event-stream"}
      });
    } catch (e) {
      article.remove();
      setBusy(false);
      form.submit();  /* the network path the plain form takes may still work */
      return;
    }
    var type = response.headers.get("Content-Type") || "";
    if (!response.ok || type.indexOf("text/event-stream") !== 0) {
      article.remove();
      var doc = null;
      try { doc = await response.json(); } catch (e) { doc = null; }
      showProblem(doc && doc.html, doc && doc.error ? doc.error.message :
                  "The assistant could not answer (HTTP " + response.status + "). Try again.");
      setBusy(false);
      return;
    }
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "", finished = false;

    function handle(ev) {
      if (!ev) return;
      if (ev.name === "delta") {
        live.appendChild(document.createTextNode(ev.data.text || ""));
      } else if (ev.name === "done") {
        finished = true;
        var tpl = document.createElement("template");
        tpl.innerHTML = ev.data.html;  /* the server's rendering: escaped and sanitised there */
        article.replaceWith(tpl.content);
        if (convField.value !== ev.data.conversation) {
          convField.value = ev.data.conversation;
          addConversation(ev.data);
        }
        if (window.history && history.replaceState) history.replaceState(null, "", ev.data.url);
        box.value = "";
        var left = document.getElementById("ask-remaining");
        if (left && ev.data.remaining !== null && ev.data.remaining !== undefined) {
          left.textContent = ev.data.remaining + " of " + ev.data.limit + " question" +
            (ev.data.limit === 1 ? "" : "s") + " left today.";
        }
        var label = form.querySelector("label[for=ask-q]");
        if (label) label.textContent = "Ask a follow-up";
      } else if (ev.name === "error") {
        finished = true;
        article.remove();
        showProblem(null, ev.data.error ? ev.data.error.message : "The answer failed. Try again.");
      }
    }

    try {
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, {stream: true}).replace(/\r\n/g, "\n");
        var cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          handle(parseEvent(buffer.slice(0, cut)));
          buffer = buffer.slice(cut + 2);
        }
      }
      if (buffer.trim()) handle(parseEvent(buffer));
    } catch (e) {
      /* the connection broke: said below */
    }
    if (!finished) {
      article.remove();
      showProblem(null, "The answer broke off before it was complete. Ask again.");
    }
    setBusy(false, finished ? "Answer ready." : "");
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (busy) return;
    var question = box.value.trim();
    if (!question) {
      showProblem(null, "Type a question first.");
      box.focus();
      return;
    }
    ask(question);
  });

  document.querySelectorAll("a[data-example]").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      if (busy) return;
      box.value = a.getAttribute("data-example");
      ask(box.value);
    });
  });
})();
