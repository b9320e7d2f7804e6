// The Setup pages of bcsync, our own code (no library): what every Setup page's script shares.
// The pages are plain forms; setup-list.js, setup-destination.js and setup-sync.js fill them
// from the setup JSON API (/api/v1/setup/...) and send them back to it, with these helpers.
// Every write carries the page's CSRF token (header X-CSRF-Token) and the version of bcsync.yml
// the page was opened on, so a file changed meanwhile is refused (409) instead of overwritten.
"use strict";

window.bcsyncSetup = (function () {
  var API = "/api/v1/setup";
  var NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
  var csrf = "";  // the page's, set by start()

  // -- small helpers --------------------------------------------------------------------------
  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  function enc(text) { return encodeURIComponent(text); }

  function call(method, path, body) {
    var options = { method: method, headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" };
    if (method !== "GET") options.headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: text }; }
        return { status: response.status, ok: response.ok, data: data || {} };
      });
    }, function (error) {
      return { status: 0, ok: false, data: { error: "The server did not answer: " + error.message } };
    });
  }

  // An API refusal in words: its message and, for a refused configuration, each problem.
  function errorNode(answer) {
    var data = answer.data || {};
    var message = data.error || data.detail;
    if (typeof message !== "string") message = message ? JSON.stringify(message) : "HTTP " + answer.status;
    if (answer.status === 409 && !/reload/i.test(message)) message += " Reload the page to start from the file as it is now.";
    var box = el("div", { className: "flash flash-bad", role: "alert" }, [el("p", { text: message })]);
    var problems = data.problems || [];
    if (problems.length) box.appendChild(problemList(problems));
    return box;
  }

  // A write that was saved but that the server could not load again: say so next to "saved".
  function reloadWarning(answer) {
    var text = answer.data && answer.data.reload_error;
    return text ? el("p", { className: "notice", role: "alert", text: "Saved, but the server could not load bcsync.yml again: " + text }) : null;
  }

  function problemText(problem) {
    if (typeof problem === "string") return problem;
    return (problem.path ? problem.path + ": " : "") + problem.message;
  }

  function problemList(problems) {
    return el("ul", { className: "problems" }, problems.map(function (p) { return el("li", { text: problemText(p) }); }));
  }

  function show(node, child) { clear(node); if (child) node.appendChild(child); }

  function diffNode(diff, label) {
    var pre = el("pre", { className: "diff", tabindex: "0", role: "region", "aria-label": label || "Changes to bcsync.yml" });
    (diff || "").split("\n").forEach(function (line) {
      var kind = line.charAt(0) === "+" && line.indexOf("+++") !== 0 ? "add"
        : line.charAt(0) === "-" && line.indexOf("---") !== 0 ? "del" : "ctx";
      pre.appendChild(el("span", { className: "diff-" + kind, text: line + "\n" }));
    });
    if (!diff) pre.textContent = "(no change)";
    return pre;
  }

  function setOptions(select, values, keep) {
    var current = keep !== undefined ? keep : select.value;
    clear(select);
    values.forEach(function (value) {
      var text = value, val = value;
      if (typeof value === "object") { text = value.text; val = value.value; }
      select.appendChild(el("option", { value: val, text: text }));
    });
    if (current !== undefined && current !== null && current !== "") {
      var found = Array.prototype.some.call(select.options, function (o) { return o.value === current; });
      if (!found) select.appendChild(el("option", { value: current, text: current }));
      select.value = current;
    }
  }

  // A value the server stands in for an unset ${VAR} (setup mode) is no value to show.
  function written(value) {
    return !value || String(value).indexOf("https://unset.invalid/") === 0 ? "" : value;
  }

  // Run ``page(root)`` when this page has the element ``id`` (its form or list).
  function start(id, page) {
    var root = $(id);
    if (!root) return;
    csrf = root.getAttribute("data-csrf") || "";
    page(root);
  }

  return {
    API: API,
    NAME_RE: NAME_RE,
    "$": $,
    el: el,
    clear: clear,
    enc: enc,
    call: call,
    errorNode: errorNode,
    reloadWarning: reloadWarning,
    problemText: problemText,
    problemList: problemList,
    show: show,
    diffNode: diffNode,
    setOptions: setOptions,
    written: written,
    csrf: function () { return csrf; },
    start: start,
  };
})();
