// The Setup pages of bcsync, our own code (no library). The pages are plain forms; this file
// fills them from the setup JSON API (/api/v1/setup/...) and sends them back to it. Every write
// carries the page's CSRF token (header X-CSRF-Token) and the version of bcsync.yml the page was
// opened on, so a file changed meanwhile is refused (409) instead of overwritten.
"use strict";

(function () {
  var API = "/api/v1/setup";
  var NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
  // What bcsync supports per object (the customers and orders objects' static checks).
  var MODES = { customers: ["insert", "update", "upsert"], orders: ["insert", "update"] };
  var MATCH_FIELDS = { customers: ["email", "id"], orders: ["id"] };
  var MODE_HELP = {
    insert: "creates records for new rows; never looks records up, never updates one it did not create",
    update: "updates records it finds by the match; rows with no record are skipped",
    upsert: "updates the record it finds by the match, creates one otherwise",
  };
  var csrf = "";

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

  // -- /setup/syncs/... -----------------------------------------------------------------------
  function syncForm(form) {
    var initial = JSON.parse($("sync-initial").textContent || "{}");
    var original = initial.sync || {};
    var name = form.getAttribute("data-name");
    var version = null;
    var columns = [];      // [{name, type}] from the last preview
    var fields = [];       // the destination's fields for the object
    var reviewed = false;  // the last Review covered the form as it is and found no problem
    var liveTimer = null;
    var status = $("s-status");

    function checked(nameAttr) {
      var input = form.querySelector('input[name="' + nameAttr + '"]:checked');
      return input ? input.value : null;
    }

    function source() { return checked("source"); }

    function showSource() {
      var kind = source();
      form.querySelectorAll("[data-source]").forEach(function (n) { n.hidden = n.getAttribute("data-source") !== kind; });
      if (kind === "table" && !$("s-table").getAttribute("data-loaded")) loadTables();
    }

    function showSchedule() {
      var kind = checked("schedule");
      form.querySelectorAll("[data-schedule]").forEach(function (n) { n.hidden = n.getAttribute("data-schedule") !== kind; });
      if (kind === "none") show($("s-next-runs"), null);
    }

    function showMode() {
      var object = $("s-object").value;
      setOptions($("s-mode"), MODES[object], MODES[object].indexOf($("s-mode").value) >= 0 ? $("s-mode").value : MODES[object][0]);
      setOptions($("s-match-field"), MATCH_FIELDS[object], MATCH_FIELDS[object].indexOf($("s-match-field").value) >= 0 ? $("s-match-field").value : MATCH_FIELDS[object][0]);
      var mode = $("s-mode").value;
      form.querySelectorAll("[data-match]").forEach(function (n) { n.hidden = mode === "insert"; });
      form.querySelector("[data-mode-help]").textContent = MODE_HELP[mode] || "";
    }

    function loadTables() {
      $("s-table").setAttribute("data-loaded", "yes");
      call("GET", API + "/warehouse/tables").then(function (answer) {
        if (!answer.ok) { show($("s-preview-result"), errorNode(answer)); return; }
        var names = (answer.data.tables || []).map(function (t) {
          return !t.schema || t.schema === "main" || t.schema === "public" ? t.name : t.schema + "." + t.name;
        });
        setOptions($("s-table"), [{ value: "", text: "(choose a table)" }].concat(names), original.model && original.model.table || $("s-table").value);
      });
    }

    function model() {
      var kind = source();
      var value = kind === "table" ? $("s-table").value : kind === "sql" ? $("s-sql").value : $("s-file").value.trim();
      var result = {};
      if (value) result[kind] = value;
      if ($("s-pk").value) result.primary_key = $("s-pk").value;
      return result;
    }

    // -- columns: preview and the selects filled from it
    function columnNames() {
      var names = columns.map(function (c) { return c.name; });
      // Before a preview, the columns the sync already names.
      (original.mappings || []).forEach(function (m) { if (names.indexOf(m.column) < 0 && !columns.length) names.push(m.column); });
      return names;
    }

    function fillColumnSelects() {
      var names = columnNames();
      var pkNames = [{ value: "", text: "(choose the key column)" }].concat(names);
      setOptions($("s-pk"), pkNames, $("s-pk").value);
      setOptions($("s-match-column"), names, $("s-match-column").value);
      mappingRows().forEach(function (row) {
        var select = row.querySelector("select");
        setOptions(select, [{ value: "", text: "(column)" }].concat(names), select.value);
      });
    }

    function typeOf(column) {
      var found = columns.filter(function (c) { return c.name === column; })[0];
      return found ? found.type : null;
    }

    function preview() {
      var body = model();
      body.limit = 20;
      var out = $("s-preview-result");
      if (!body.table && !body.sql && !body.file) { show(out, errorNode({ data: { error: "Choose a table, or write the SQL, or give the file first." } })); return Promise.resolve(); }
      show(out, el("p", { text: "Reading the first rows…" }));
      return call("POST", API + "/models/preview", body).then(function (answer) {
        if (!answer.ok) { show(out, errorNode(answer)); return; }
        columns = answer.data.columns || [];
        var keep = $("s-pk").value;
        fillColumnSelects();
        if (!keep) {
          // A first guess at the key (id, customer_id…), previewed again for its warnings.
          var guess = columns.filter(function (c) { return /^(id|.*_id)$/i.test(c.name); })[0];
          if (guess) { $("s-pk").value = guess.name; return preview(); }
        }
        var box = el("div", {});
        (answer.data.key_warnings || []).forEach(function (w) { box.appendChild(el("p", { className: "notice", role: "alert", text: w })); });
        var head = el("tr", {}, columns.map(function (c) {
          return el("th", { scope: "col" }, [c.name, el("br"), el("small", { className: "col-type", text: c.type })]);
        }));
        var rows = (answer.data.rows || []).map(function (r) {
          return el("tr", {}, r.map(function (v) { return el("td", { text: v === null ? "null" : typeof v === "object" ? JSON.stringify(v) : String(v) }); }));
        });
        box.appendChild(el("div", { className: "preview-scroll", tabindex: "0", role: "region", "aria-label": "Preview of the model" }, [el("table", { className: "preview" }, [
          el("caption", { text: "The model's columns with their types, and its first " + rows.length + " rows" }),
          el("thead", {}, [head]), el("tbody", {}, rows),
        ])]));
        show(out, box);
        changed();
      });
    }

    // -- fields of the store
    var fieldsAsked = 0;
    var fieldsReady = Promise.resolve();  // the latest request for the fields
    function loadFields() {
      var destination = $("s-destination").value;
      if (!destination) return Promise.resolve();
      var note = $("s-fields-note");
      var asked = ++fieldsAsked;
      fieldsReady = call("GET", API + "/destinations/" + enc(destination) + "/fields?object=" + enc($("s-object").value)).then(function (answer) {
        if (asked !== fieldsAsked) return;  // the object or destination changed meanwhile
        if (!answer.ok) { fields = []; note.textContent = ""; note.appendChild(errorNode(answer)); return; }
        fields = answer.data.fields || [];
        var list = clear($("s-fields"));
        fields.forEach(function (f) { list.appendChild(el("option", { value: f.field, label: f.field + " (" + f.type + ", " + f.kind + ")" })); });
        var namespaces = answer.data.metafield_namespaces || [];
        var counts = {};
        fields.forEach(function (f) { counts[f.kind] = (counts[f.kind] || 0) + 1; });
        note.textContent = "Fields of the store's " + $("s-object").value + ": " +
          Object.keys(counts).map(function (k) { return counts[k] + " " + k.replace("_", " "); }).join(", ") +
          ". A metafield is metafields.NAMESPACE.KEY" +
          (namespaces.length ? " (namespaces in use: " + namespaces.join(", ") + ")." : ".");
        (answer.data.not_listed || []).forEach(function (why) { note.appendChild(el("br")); note.appendChild(document.createTextNode("Not listed: " + why)); });
        mappingRows().forEach(describeField);
      });
      return fieldsReady;
    }

    function fieldInfo(field) { return fields.filter(function (f) { return f.field === field; })[0] || null; }

    // -- mapping rows
    var rowCount = 0;
    function mappingRows() { return Array.prototype.slice.call($("s-mappings").tBodies[0].rows); }

    function addMapping(column, field) {
      rowCount += 1;
      var id = "m" + rowCount;
      var select = el("select", { id: id + "-column", "aria-label": "Column of mapping " + rowCount });
      setOptions(select, [{ value: "", text: "(column)" }].concat(columnNames()), column || "");
      var input = el("input", { id: id + "-field", list: "s-fields", "aria-label": "Store field of mapping " + rowCount, value: field || "", autocomplete: "off", spellcheck: "false" });
      var info = el("small", { className: "field-type", "data-field-type": "" });
      var checkCell = el("td", { className: "mapping-check", "data-check": "" });
      var remove = el("button", { type: "button", "aria-label": "Remove mapping " + rowCount, text: "Remove" });
      var row = el("tr", { "data-mapping": id }, [
        el("td", {}, [select]),
        el("td", {}, [input, el("br"), info, el("div", { "data-create": "" })]),
        checkCell,
        el("td", {}, [remove]),
      ]);
      remove.addEventListener("click", function () { row.remove(); changed(true); });
      select.addEventListener("change", function () { changed(true); });
      input.addEventListener("input", function () { describeField(row); changed(true); });
      $("s-mappings").tBodies[0].appendChild(row);
      describeField(row);
      return row;
    }

    function rowValue(row) {
      return { column: row.querySelector("select").value, field: row.querySelector("input").value.trim() };
    }

    // The chosen field's type, or an offer to create a customer attribute that does not exist.
    function describeField(row) {
      var value = rowValue(row);
      var info = row.querySelector("[data-field-type]");
      var create = clear(row.querySelector("[data-create]"));
      if (!value.field) { info.textContent = ""; return; }
      var found = fieldInfo(value.field);
      if (found) { info.textContent = found.kind + ", type " + found.type; return; }
      if (!fields.length) { info.textContent = ""; return; }
      var attribute = /^attributes\.(.+)$/.exec(value.field);
      if (attribute && $("s-object").value === "customers") {
        info.textContent = "No customer attribute \u201c" + attribute[1] + "\u201d in the store yet.";
        var typeId = row.getAttribute("data-mapping") + "-attr-type";
        var typeSelect = el("select", { id: typeId }, [
          el("option", { value: "string", text: "string" }), el("option", { value: "number", text: "number" }), el("option", { value: "date", text: "date" }),
        ]);
        var columnType = typeOf(value.column) || "";
        if (/int|float|double|decimal|numeric|real/i.test(columnType)) typeSelect.value = "number";
        else if (/date|time/i.test(columnType)) typeSelect.value = "date";
        var button = el("button", { type: "button", text: "Create attribute \u201c" + attribute[1] + "\u201d" });
        button.addEventListener("click", function () {
          button.disabled = true;
          call("POST", API + "/destinations/" + enc($("s-destination").value) + "/attributes", { name: attribute[1], type: typeSelect.value }).then(function (answer) {
            button.disabled = false;
            if (!answer.ok) { show(create, errorNode(answer)); return; }
            show(status, el("span", { text: "Created the customer attribute " + attribute[1] + " (" + typeSelect.value + ")." }));
            loadFields().then(function () { changed(true); });
          });
        });
        create.appendChild(el("label", { for: typeId, text: "Type " }));
        create.appendChild(typeSelect);
        create.appendChild(document.createTextNode(" "));
        create.appendChild(button);
      } else if (/^metafields\.[^.]+\..+$/.test(value.field)) {
        info.textContent = "A metafield: created by the first run that writes it.";
      } else {
        info.textContent = "Not a field of the store's " + $("s-object").value + ".";
      }
    }

    function showMappingChecks(checks) {
      var left = (checks || []).slice();
      mappingRows().forEach(function (row) {
        var value = rowValue(row);
        var cell = clear(row.querySelector("[data-check]"));
        var index = -1;
        left.some(function (c, i) { if (c.column === value.column && c.field === value.field) { index = i; return true; } return false; });
        if (index < 0) return;
        var found = left.splice(index, 1)[0];
        row.classList.toggle("mapping-bad", !found.ok);
        cell.appendChild(el("span", { className: found.ok ? "check-ok" : "check-bad", role: found.ok ? null : "alert", text: (found.ok ? "\u2713 " : "\u2717 ") + (found.message || (found.ok ? "ok" : "does not fit")) }));
      });
    }

    // -- the sync as bcsync.yml will hold it: the original, with what the form shows replaced
    function setOrDrop(target, key, value, fallback) {
      if (value === null || value === undefined || value === "" || (value === fallback && !(key in original))) delete target[key];
      else target[key] = value;
    }

    function number(input) {
      var text = input.value.trim();
      return text === "" ? null : Number(text);
    }

    function collect() {
      var sync = JSON.parse(JSON.stringify(original));
      sync.destination = $("s-destination").value;
      sync.object = $("s-object").value;
      sync.model = model();
      sync.mode = $("s-mode").value;
      if (sync.mode === "insert") delete sync.match;
      else sync.match = { column: $("s-match-column").value, field: $("s-match-field").value };
      sync.mappings = mappingRows().map(rowValue).filter(function (m) { return m.column || m.field; });
      setOrDrop(sync, "on_delete", $("s-on-delete").value, "nothing");
      setOrDrop(sync, "max_delete_fraction", number($("s-max-delete")), 0.5);
      var kind = checked("schedule");
      var was = original.schedule || {};
      if (kind === "none") delete sync.schedule;
      else if (kind === "every") {
        sync.schedule = { every: $("s-every").value.trim() };
        ["start_at", "end_at"].forEach(function (k) { if (was[k] && was.every) sync.schedule[k] = was[k]; });
      } else if (kind === "cron") {
        sync.schedule = { cron: $("s-cron").value.trim() };
        if ($("s-timezone").value.trim()) sync.schedule.timezone = $("s-timezone").value.trim();
      } else {
        sync.schedule = { after: $("s-after").value.split(",").map(function (s) { return s.trim(); }).filter(Boolean), when: $("s-when").value };
      }
      var alerts = {};
      var own = $("s-own-channels");
      if (own && own.checked) {
        alerts.channels = Array.prototype.filter.call(form.querySelectorAll("[data-channel]"), function (c) { return c.checked; }).map(function (c) { return c.value; });
      }
      var rejected = {};
      var warning = number($("s-rejected-warning")), critical = number($("s-rejected-critical"));
      if (warning !== null) rejected.warning = warning;
      if (critical !== null) rejected.critical = critical;
      if (Object.keys(rejected).length) alerts.rejected_rows = rejected;
      if (Object.keys(alerts).length) sync.alerts = alerts; else delete sync.alerts;
      return sync;
    }

    function syncName() { return name || $("s-name").value.trim(); }

    // -- checks: live (mapping types, next runs) and the Review
    var checks = 0;  // checks asked for: only the latest one's answer is shown
    function check() {
      return call("POST", API + "/syncs/check", { name: syncName() || "new_sync", sync: collect() });
    }

    function blockSave(why) {
      reviewed = false;
      $("s-save").disabled = true;
      $("s-save-why").textContent = why;
    }

    function changed(live) {
      if (reviewed || !$("s-save").disabled) blockSave("The form changed since the review: review it again.");
      if (!live) return;
      window.clearTimeout(liveTimer);
      liveTimer = window.setTimeout(liveCheck, 500);
    }

    function liveCheck() {
      if (!mappingRows().length && checked("schedule") === "none") return;
      var mine = ++checks;
      check().then(function (answer) {
        if (!answer.ok || mine !== checks) return;  // a later check (or the review) answers
        showMappingChecks(answer.data.mapping_checks);
        showNextRuns(answer.data.next_runs);
      });
    }

    function showNextRuns(runs) {
      var out = $("s-next-runs");
      if (checked("schedule") === "none" || !runs || !runs.length) { show(out, null); return; }
      show(out, el("div", {}, [el("h3", { text: "Next runs" }), el("ol", { className: "next-runs" }, runs.map(function (t) {
        return el("li", {}, [el("time", { datetime: t, text: t.replace("T", " ").slice(0, 19) + " UTC" })]);
      }))]));
    }

    function duration(seconds) {
      if (seconds === null || seconds === undefined) return "time unknown";
      var amount = seconds < 90 ? Math.max(1, Math.round(seconds)) : Math.round(seconds / 60);
      var unit = seconds < 90 ? "second" : "minute";
      return "about " + amount + " " + unit + (amount === 1 ? "" : "s");
    }

    function review() {
      var out = $("s-review-result");
      if (!NAME_RE.test(syncName())) { show(out, errorNode({ data: { error: "Give the sync a name (letters, digits, '_', '-', '.')." } })); return; }
      show(out, el("p", { text: "Checking against the warehouse and the store…" }));
      blockSave("Reviewing…");
      window.clearTimeout(liveTimer);  // the review checks the same form
      var mine = ++checks;
      check().then(function (answer) {
        if (mine !== checks) return;
        if (!answer.ok) { show(out, errorNode(answer)); blockSave("Fix the problems above, then review again."); return; }
        var data = answer.data;
        showMappingChecks(data.mapping_checks);
        showNextRuns(data.next_runs);
        var box = el("div", {});
        var problems = data.problems || [];
        var bad = (data.mapping_checks || []).filter(function (c) { return !c.ok; });
        if (problems.length || bad.length) {
          var list = problemList(problems.concat(bad.filter(function (c) {
            return !problems.some(function (p) { return p.message === c.message; });
          }).map(function (c) { return { path: c.column + " \u2192 " + c.field, message: c.message }; })));
          box.appendChild(el("div", { className: "flash flash-bad", role: "alert" }, [el("p", { text: "Fix these before saving:" }), list]));
        } else {
          box.appendChild(el("p", { className: "flash flash-ok", text: "No problem found." }));
        }
        var plan = data.plan;
        if (!plan && data.plan_error) {
          box.appendChild(el("p", { className: "notice", text: "No plan of the first run: " + data.plan_error }));
        }
        if (plan) {
          // What a plan knows; succeeded, rejected and skipped are a run's outcomes (all 0 here).
          var counts = {};
          Object.keys(plan.counts || {}).forEach(function (k) {
            if (["succeeded", "rejected", "skipped"].indexOf(k) < 0) counts[k] = plan.counts[k];
          });
          box.appendChild(el("h3", { text: "The first run would" }));
          box.appendChild(el("table", { className: "plan-counts" }, [
            el("thead", {}, [el("tr", {}, Object.keys(counts).map(function (k) { return el("th", { scope: "col", text: k }); }))]),
            el("tbody", {}, [el("tr", {}, Object.keys(counts).map(function (k) { return el("td", { className: "num", "data-count": k, text: String(counts[k]) }); }))]),
          ]));
          var seconds = plan.estimated_seconds;
          box.appendChild(el("p", { "data-estimate": "", text: "Estimate: " + plan.estimated_api_calls + " API calls, " +
            duration(seconds) + "." }));
        }
        box.appendChild(el("h3", { text: "Changes to bcsync.yml" }));
        box.appendChild(diffNode(data.diff));
        show(out, box);
        if (!problems.length && !bad.length) {
          reviewed = true;
          $("s-save").disabled = false;
          $("s-save-why").textContent = "";
        } else {
          blockSave("Fix the problems the review found, then review again.");
        }
      });
    }

    function save() {
      if (!reviewed) return;
      var saved = syncName();
      $("s-save").disabled = true;
      call("PUT", API + "/syncs/" + enc(saved), { sync: collect(), version: version }).then(function (answer) {
        if (!answer.ok) { show($("s-saved"), errorNode(answer)); blockSave("Not saved: see below."); return; }
        version = answer.data.version;
        original = collect();
        reviewed = false;
        $("s-save-why").textContent = "Saved.";
        var csrfField = el("input", { type: "hidden", name: "csrf", value: csrf });
        var runForm = el("form", { method: "post", action: "/syncs/" + enc(saved) + "/run", className: "inline" }, [
          csrfField, el("button", { type: "submit", "aria-label": "Run " + saved + " now", text: "Run now" }),
        ]);
        show($("s-saved"), el("div", { className: "flash flash-ok" }, [
          el("p", {}, ["Saved sync " + saved + " to bcsync.yml. ",
            el("a", { href: "/syncs/" + enc(saved), text: "Open the sync " + saved }), " · ",
            el("a", { href: "/setup", text: "Back to the setup" })]),
          reloadWarning(answer),
          runForm,
        ]));
        if (!name) {
          name = saved;
          form.setAttribute("data-name", saved);
          $("s-name").readOnly = true;
          window.history.replaceState(null, "", "/setup/syncs/" + enc(saved));
        }
      });
    }

    function suggest() {
      Promise.all([check(), fieldsReady]).then(function (both) {
        var answer = both[0];
        var mapped = mappingRows().map(function (r) { return rowValue(r).column; });
        var taken = mappingRows().map(function (r) { return rowValue(r).field; });
        var suggestions = answer.ok ? (answer.data.suggestions || []) : [];
        if (!suggestions.length) {
          // By name alone, when the API has none: a column named as a field of the store.
          columnNames().forEach(function (c) {
            var found = fields.filter(function (f) { return f.field.toLowerCase() === c.toLowerCase(); })[0];
            if (found) suggestions.push({ column: c, field: found.field });
          });
        }
        var added = 0;
        suggestions.forEach(function (s) {
          if (mapped.indexOf(s.column) >= 0 || taken.indexOf(s.field) >= 0) return;
          var empty = mappingRows().filter(function (r) { var v = rowValue(r); return !v.column && !v.field; })[0];
          if (empty) empty.remove();
          addMapping(s.column, s.field);
          mapped.push(s.column); taken.push(s.field);
          added += 1;
        });
        show(status, el("span", { text: added ? "Suggested " + added + " mapping" + (added === 1 ? "" : "s") + " by name." : "No more mappings to suggest by name." }));
        changed(true);
      });
    }

    // -- channels (from the project's alerts section)
    function fillChannels() {
      var box = $("s-channels");
      var channels = initial.channels || [];
      var own = original.alerts && original.alerts.channels;
      if (!channels.length) { box.appendChild(el("p", { className: "note", text: "No alert channels in bcsync.yml (alerts.channels): the thresholds below still mark runs." })); return; }
      var toggle = el("input", { type: "checkbox", id: "s-own-channels", checked: own ? true : null });
      box.appendChild(el("div", { className: "field-inline" }, [toggle, el("label", { for: "s-own-channels", text: "Send this sync's alerts to its own channels (otherwise the project's default channels)" })]));
      var list = el("fieldset", { className: "channel-list" }, [el("legend", { text: "Channels" })]);
      channels.forEach(function (c, i) {
        var id = "s-channel-" + i;
        list.appendChild(el("span", {}, [el("input", { type: "checkbox", id: id, value: c, "data-channel": "", checked: own && own.indexOf(c) >= 0 ? true : null }), el("label", { for: id, text: c }), " "]));
      });
      list.disabled = !own;
      toggle.addEventListener("change", function () { list.disabled = !toggle.checked; });
      box.appendChild(list);
    }

    // -- start: the form from the sync as written, then what the API knows
    function fillForm() {
      var sync = original;
      if (sync.object) $("s-object").value = sync.object;
      var m = sync.model || {};
      var kind = m.sql !== undefined ? "sql" : m.file !== undefined ? "file" : "table";
      $("s-src-" + kind).checked = true;
      if (m.sql) $("s-sql").value = m.sql;
      if (m.file) $("s-file").value = m.file;
      if (m.table) setOptions($("s-table"), [{ value: "", text: "(choose a table)" }], m.table);
      fillColumnSelects();
      if (m.primary_key) setOptions($("s-pk"), Array.prototype.map.call($("s-pk").options, function (o) { return { value: o.value, text: o.text }; }), m.primary_key);
      showMode();
      if (sync.mode) { setOptions($("s-mode"), MODES[$("s-object").value], sync.mode); }
      if (sync.match) {
        setOptions($("s-match-column"), columnNames(), sync.match.column);
        setOptions($("s-match-field"), MATCH_FIELDS[$("s-object").value], sync.match.field);
      }
      showMode();
      (sync.mappings || []).forEach(function (mp) { addMapping(mp.column, mp.field); });
      if (!(sync.mappings || []).length) addMapping("", "");
      if (sync.on_delete) $("s-on-delete").value = sync.on_delete;
      if (sync.max_delete_fraction !== undefined) $("s-max-delete").value = sync.max_delete_fraction;
      var s = sync.schedule;
      if (s && s.every) { $("s-sched-every").checked = true; $("s-every").value = s.every; }
      else if (s && s.cron) { $("s-sched-cron").checked = true; $("s-cron").value = s.cron; $("s-timezone").value = s.timezone || ""; }
      else if (s && s.after) { $("s-sched-after").checked = true; $("s-after").value = s.after.join(", "); $("s-when").value = s.when || "success"; }
      var rr = sync.alerts && sync.alerts.rejected_rows || {};
      if (rr.warning !== undefined && rr.warning !== null) $("s-rejected-warning").value = rr.warning;
      if (rr.critical !== undefined && rr.critical !== null) $("s-rejected-critical").value = rr.critical;
      fillChannels();
      showSource();
      showSchedule();
    }

    fillForm();
    form.addEventListener("change", function (event) {
      var target = event.target;
      if (target.name === "source") showSource();
      if (target.name === "schedule") showSchedule();
      if (target.id === "s-object" || target.id === "s-mode") showMode();
      if (target.id === "s-object" || target.id === "s-destination") loadFields().then(function () { changed(true); });
      else changed(target.name === "schedule" || target.closest("[data-schedule]") !== null || target.closest("#s-mappings") !== null);
    });
    form.addEventListener("input", function (event) {
      if (event.target.closest("#s-mappings")) return;  // handled per row
      changed(event.target.closest("[data-schedule]") !== null);
    });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    // A match column named as a field it can match (email → email) picks that field.
    $("s-match-column").addEventListener("change", function () {
      var column = $("s-match-column").value.toLowerCase();
      if (MATCH_FIELDS[$("s-object").value].indexOf(column) >= 0) $("s-match-field").value = column;
    });
    $("s-preview").addEventListener("click", preview);
    $("s-table").addEventListener("change", function () { if ($("s-table").value) preview(); });
    // The key's nulls and duplicates are found by the preview: look again for the new key.
    $("s-pk").addEventListener("change", function () { if (columns.length && $("s-pk").value) preview(); });
    $("s-add-mapping").addEventListener("click", function () { addMapping("", "").querySelector("select").focus(); changed(); });
    $("s-suggest").addEventListener("click", suggest);
    $("s-review").addEventListener("click", review);
    $("s-save").addEventListener("click", save);

    call("GET", API).then(function (answer) {
      if (!answer.ok) { show(status, errorNode(answer)); return; }
      version = answer.data.version;
      var names = (answer.data.destinations || []).map(function (d) { return d.name; });
      setOptions($("s-destination"), names, original.destination || names[0]);
      loadFields();
      var m = original.model || {};
      if (m.sql || m.file || m.table) preview();
      if (original.schedule) liveCheck();
    });
  }

  function start() {
    var root = $("setup-list") || $("destination-form") || $("sync-form");
    if (!root) return;
    csrf = root.getAttribute("data-csrf") || "";
    if (root.id === "setup-list") setupList(root);
    else if (root.id === "destination-form") destinationForm(root);
    else syncForm(root);
  }

  start();
})();
