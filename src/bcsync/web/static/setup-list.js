// The /setup page: the destinations and syncs lists, Duplicate and Delete.
// Helpers and the API calls are setup-api.js's (loaded first).
"use strict";

(function (S) {
  var API = S.API, NAME_RE = S.NAME_RE, $ = S["$"], el = S.el, clear = S.clear, enc = S.enc,
    call = S.call, errorNode = S.errorNode, reloadWarning = S.reloadWarning,
    problemText = S.problemText, show = S.show, written = S.written;

  // -- /setup: the lists, Duplicate and Delete -------------------------------------------------
  function setupList(root) {
    var version = null;
    var chosen = null;
    var status = $("setup-status");

    function load() {
      return call("GET", API).then(function (answer) {
        if (!answer.ok) { show(status, errorNode(answer)); return; }
        var data = answer.data;
        version = data.version;
        var problems = $("setup-problems");
        clear(problems);
        (data.problems || []).forEach(function (p) { problems.appendChild(el("li", { text: problemText(p) })); });
        problems.hidden = !(data.problems || []).length;
        var dests = clear($("destinations").tBodies[0]);
        (data.destinations || []).forEach(function (d) {
          dests.appendChild(el("tr", {}, [
            el("th", { scope: "row", text: d.name }),
            el("td", {}, [written(d.store_hash) ? el("code", { text: d.store_hash }) : "not set"]),
            el("td", {}, [el("code", { text: written(d.api_url) || "https://api.bigcommerce.com" })]),
            el("td", { text: d.token_set ? "set" : "not set" }),
            el("td", {}, [el("a", { className: "button", href: "/setup/destinations/" + enc(d.name), "aria-label": "Edit destination " + d.name, text: "Edit" })]),
          ]));
        });
        if (!(data.destinations || []).length) dests.appendChild(el("tr", {}, [el("td", { colspan: "5", text: "No destination yet: add one." })]));
        var syncs = clear($("syncs").tBodies[0]);
        (data.syncs || []).forEach(function (name) {
          syncs.appendChild(el("tr", {}, [
            el("th", { scope: "row" }, [el("a", { href: "/syncs/" + enc(name), text: name })]),
            el("td", { className: "actions" }, [
              el("a", { className: "button", href: "/setup/syncs/" + enc(name), "aria-label": "Edit " + name, text: "Edit" }),
              action("Duplicate", name, openDuplicate),
              action("Delete", name, openDelete),
            ]),
          ]));
        });
        if (!(data.syncs || []).length) syncs.appendChild(el("tr", {}, [el("td", { colspan: "2", text: "No sync yet: add one." })]));
      });
    }

    function action(label, name, open) {
      var button = el("button", { type: "button", "aria-label": label + " " + name, text: label });
      button.addEventListener("click", function () { open(name); });
      return button;
    }

    function openPanel(id, name) {
      chosen = name;
      ["duplicate-panel", "delete-panel"].forEach(function (other) { $(other).hidden = other !== id; });
      $(id).querySelectorAll("[data-sync-name]").forEach(function (n) { n.textContent = name; });
    }

    function openDuplicate(name) {
      openPanel("duplicate-panel", name);
      $("duplicate-name").value = name + "_copy";
      $("duplicate-name").focus();
    }

    function openDelete(name) {
      openPanel("delete-panel", name);
      $("delete-keep").checked = true;
      $("delete-keep").focus();
    }

    root.querySelectorAll("[data-cancel]").forEach(function (button) {
      button.addEventListener("click", function () { button.closest("section").hidden = true; });
    });

    $("duplicate-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var newName = $("duplicate-name").value.trim();
      if (!NAME_RE.test(newName)) { show(status, errorNode({ data: { error: "A sync name may use only letters, digits, '_', '-' and '.'." } })); return; }
      call("POST", API + "/syncs/" + enc(chosen) + "/duplicate", { new_name: newName, version: version }).then(function (answer) {
        if (!answer.ok) { show(status, errorNode(answer)); return; }
        $("duplicate-panel").hidden = true;
        show(status, el("span", {}, ["Copied " + chosen + " to " + newName + ". ", el("a", { href: "/setup/syncs/" + enc(newName), text: "Edit " + newName }), reloadWarning(answer)]));
        load();
      });
    });

    $("delete-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var state = $("delete-reset").checked ? "reset" : "keep";
      call("DELETE", API + "/syncs/" + enc(chosen) + "?state=" + state + "&version=" + enc(version)).then(function (answer) {
        if (!answer.ok) { show(status, errorNode(answer)); return; }
        $("delete-panel").hidden = true;
        show(status, el("span", {}, ["Deleted " + chosen + (state === "reset" ? "; its state was reset." : "; its state was kept."), reloadWarning(answer)]));
        load();
      });
    });

    load();
  }

  S.start("setup-list", setupList);
})(window.bcsyncSetup);
