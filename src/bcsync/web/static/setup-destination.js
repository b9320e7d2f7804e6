// The destination form (/setup/destinations/...): check the store hash and token, save.
// Helpers and the API calls are setup-api.js's (loaded first).
"use strict";

(function (S) {
  var API = S.API, NAME_RE = S.NAME_RE, $ = S["$"], el = S.el, enc = S.enc, call = S.call,
    errorNode = S.errorNode, reloadWarning = S.reloadWarning, problemList = S.problemList,
    show = S.show, diffNode = S.diffNode, written = S.written;

  // -- /setup/destinations/... ----------------------------------------------------------------
  function destinationForm(form) {
    var name = form.getAttribute("data-name");
    var version = null;
    var loadedUrl = "";  // as the page showed it: sent back only when changed (empty: real API)
    var result = $("d-check-result");

    call("GET", API).then(function (answer) {
      if (!answer.ok) { show(result, errorNode(answer)); return; }
      version = answer.data.version;
      var found = (answer.data.destinations || []).filter(function (d) { return d.name === name; })[0];
      if (found) {
        // What the user typed before the answer came stays.
        if (!$("d-store-hash").value) $("d-store-hash").value = written(found.store_hash);
        var url = written(found.api_url);
        loadedUrl = url && url !== "https://api.bigcommerce.com" ? url : "";
        if (!$("d-api-url").value) $("d-api-url").value = loadedUrl;
        if (!found.token_set) $("d-token").placeholder = "not set yet";
        else $("d-token").placeholder = "saved (leave empty to keep it)";
      }
    });

    function destinationName() { return name || $("d-name").value.trim(); }

    function body() {
      var data = { store_hash: $("d-store-hash").value.trim() };
      var token = $("d-token").value;
      if (token) data.access_token = token;
      var url = $("d-api-url").value.trim();
      if (url) data.api_url = url;
      return data;
    }

    // What a save sends: the API URL only when it changed, so that a reference such as
    // ${BIGCOMMERCE_API_URL:-https://api.bigcommerce.com} stays as written.
    function edited() {
      var data = body();
      var url = $("d-api-url").value.trim();
      if (url === loadedUrl && name) delete data.api_url;
      else data.api_url = url;
      return data;
    }

    function missing() {
      if (!name && !NAME_RE.test(destinationName())) return "Give the destination a name (letters, digits, '_', '-', '.').";
      if (!body().store_hash) return "Enter the store hash.";
      if (!name && !body().access_token) return "Enter the access token.";
      return null;
    }

    $("d-check").addEventListener("click", function () {
      var data = body();
      if (!data.store_hash || !data.access_token) {
        show(result, errorNode({ data: { error: "Enter the store hash and the access token to test them." } }));
        return;
      }
      show(result, el("p", { text: "Asking the store…" }));
      call("POST", API + "/destinations/check", data).then(function (answer) {
        if (!answer.ok) { show(result, errorNode(answer)); return; }
        var check = answer.data;
        var box = el("div", { className: "flash " + (check.ok ? "flash-ok" : "flash-bad") }, [
          el("p", {}, [el("strong", { text: check.ok ? "Connected." : "The store refused:" }), " ",
            check.status ? "HTTP " + check.status + ". " : "", check.explanation || ""]),
        ]);
        if ((check.scopes || []).length) {
          box.appendChild(el("p", { text: "The token's scopes:" }));
          box.appendChild(el("ul", { className: "scopes" }, check.scopes.map(function (s) { return el("li", {}, [el("code", { text: s })]); })));
        }
        if ((check.problems || []).length) box.appendChild(problemList(check.problems));
        show(result, box);
      });
    });

    function put(dryRun) {
      var data = edited();
      data.version = version;
      data.dry_run = dryRun;
      return call("PUT", API + "/destinations/" + enc(destinationName()), data);
    }

    $("d-review").addEventListener("click", function () {
      var why = missing();
      if (why) { show(result, errorNode({ data: { error: why } })); return; }
      show($("d-saved"), null);
      put(true).then(function (answer) {
        if (!answer.ok) { $("d-diff").hidden = true; show(result, errorNode(answer)); return; }
        var section = $("d-diff");
        section.querySelector("[data-diff]").replaceWith(diffNode(answer.data.diff));
        section.querySelector("pre").setAttribute("data-diff", "");
        var keys = answer.data.env_keys || [];
        section.querySelector("[data-env-keys]").textContent = keys.length
          ? "The project's .env gets: " + keys.join(", ") + " (values not shown)." : "";
        section.hidden = false;
        $("d-save").focus();
      });
    });

    $("d-save").addEventListener("click", function () {
      put(false).then(function (answer) {
        if (!answer.ok) { show($("d-saved"), errorNode(answer)); return; }
        version = answer.data.version;
        loadedUrl = $("d-api-url").value.trim();
        $("d-diff").hidden = true;
        $("d-token").value = "";
        var saved = destinationName();
        show($("d-saved"), el("div", { className: "flash flash-ok" }, [
          el("p", {}, ["Saved destination " + saved + ". ",
            el("a", { href: "/setup", text: "Back to the setup" }), " · ",
            el("a", { href: "/setup/syncs/new", text: "Add a sync" })]),
          reloadWarning(answer),
        ]));
        if (!name) {
          name = saved;
          form.setAttribute("data-name", saved);
          window.history.replaceState(null, "", "/setup/destinations/" + enc(saved));
        }
      });
    });
  }

  S.start("destination-form", destinationForm);
})(window.bcsyncSetup);
