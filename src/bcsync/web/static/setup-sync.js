// The sync form (/setup/syncs/...): model, object and mode, mappings, schedule, review, save.
// Helpers and the API calls are setup-api.js's, the mapping rows setup-mappings.js's (loaded first).
"use strict";

(function (S) {
  var API = S.API, NAME_RE = S.NAME_RE, $ = S["$"], el = S.el, clear = S.clear, enc = S.enc,
    call = S.call, errorNode = S.errorNode, reloadWarning = S.reloadWarning,
    problemList = S.problemList, show = S.show, diffNode = S.diffNode, setOptions = S.setOptions;

  // What bcsync supports per object (the customers and orders objects' static checks).
  var MODES = { customers: ["insert", "update", "upsert"], orders: ["insert", "update"] };
  var MATCH_FIELDS = { customers: ["email", "id"], orders: ["id"] };
  var MODE_HELP = {
    insert: "creates records for new rows; never looks records up, never updates one it did not create",
    update: "updates records it finds by the match; rows with no record are skipped",
    upsert: "updates the record it finds by the match, creates one otherwise",
  };

  // -- /setup/syncs/... -----------------------------------------------------------------------
  function syncForm(form) {
    var initial = JSON.parse($("sync-initial").textContent || "{}");
    var original = initial.sync || {};
    var name = form.getAttribute("data-name");
    var version = null;
    var columns = [];      // [{name, type}] from the last preview
    var fields = [];       // the destination's fields for the object
    var reviewed = false;  // the last Review covered the form as it is and found no problem
    var matchChosen = false;  // the user picked the match column: defaultMatchColumn leaves it
    var liveTimer = null;
    var dirty = false;     // changed since opened or last saved: leaving asks first
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
      defaultMatchColumn();
      form.querySelectorAll("[data-match]").forEach(function (n) { n.hidden = mode === "insert"; });
      form.querySelector("[data-mode-help]").textContent = MODE_HELP[mode] || "";
    }

    // Until the user picks one (a new sync), the match column is the one named as the field
    // (email → email), not the first column: customer_id matched against emails finds nobody.
    function defaultMatchColumn() {
      var field = $("s-match-field").value;
      if (original.match || matchChosen || columnNames().indexOf(field) < 0) return;
      $("s-match-column").value = field;
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
        defaultMatchColumn();
        if (!keep) {
          // A first guess at the key (id, customer_id…), previewed again for its warnings.
          // Only a column whose previewed values are all set and distinct (not status_id).
          var rows = answer.data.rows || [];
          var guess = columns.filter(function (c, i) {
            var seen = rows.map(function (r) { return r[i] === null ? null : String(r[i]); });
            var distinct = seen.every(function (v, j) { return v !== null && seen.indexOf(v) === j; });
            return /^(id|.*_id|.*_key)$/i.test(c.name) && distinct;
          })[0];
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

    // -- mapping rows (setup-mappings.js)
    var mappings = S.mappingTable($("s-mappings"), {
      columnNames: columnNames,
      typeOf: typeOf,
      fields: function () { return fields; },
      reloadFields: loadFields,
      changed: changed,
      status: status,
    });
    var mappingRows = mappings.rows, addMapping = mappings.add, rowValue = mappings.value;
    var describeField = mappings.describe, showMappingChecks = mappings.showChecks;

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
    // The live checks skip the plan ("plan": false): it reads the whole model and the store.
    function check(plan) {
      return call("POST", API + "/syncs/check", { name: syncName() || "new_sync", sync: collect(), plan: plan, create: !name });
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
      check(false).then(function (answer) {
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

    // Review waits for a Suggest still on its way: it would check the form without its rows.
    var suggesting = Promise.resolve();
    function review() { suggesting.then(reviewNow, reviewNow); }

    function reviewNow() {
      var out = $("s-review-result");
      if (!NAME_RE.test(syncName())) { show(out, errorNode({ data: { error: "Give the sync a name (letters, digits, '_', '-', '.')." } })); return; }
      show(out, el("p", { text: "Checking against the warehouse and the store…" }));
      blockSave("Reviewing…");
      window.clearTimeout(liveTimer);  // the review checks the same form
      var mine = ++checks;
      check(true).then(function (answer) {
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
          var invalid = plan.invalid_rows || [];
          if (invalid.length) {
            box.appendChild(el("div", { className: "notice", "data-invalid-rows": "" }, [
              el("p", { text: (plan.counts.invalid || invalid.length) + " rows would not be sent (invalid), for example:" }),
              el("ul", {}, invalid.map(function (r) { return el("li", { text: (r.pk === null ? "null key" : "key " + r.pk) + ": " + r.reason }); })),
            ]));
          }
          var seconds = plan.estimated_seconds;
          box.appendChild(el("p", { "data-estimate": "", text: "Estimate: " + plan.estimated_api_calls + " API call" + (plan.estimated_api_calls === 1 ? ", " : "s, ") +
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
      call("PUT", API + "/syncs/" + enc(saved), { sync: collect(), version: version, create: !name }).then(function (answer) {
        if (!answer.ok) { show($("s-saved"), errorNode(answer)); blockSave("Not saved: see below."); return; }
        dirty = false;
        version = answer.data.version;
        original = collect();
        reviewed = false;
        $("s-save-why").textContent = "Saved.";
        var csrfField = el("input", { type: "hidden", name: "csrf", value: S.csrf() });
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
        runForm.querySelector("button").focus();  // Save is disabled now: keep the keyboard here
        if (!name) {
          name = saved;
          form.setAttribute("data-name", saved);
          $("s-name").readOnly = true;
          window.history.replaceState(null, "", "/setup/syncs/" + enc(saved));
        }
      });
    }

    function suggest() {
      suggesting = Promise.all([check(false), fieldsReady]).then(function (both) {
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
    window.addEventListener("beforeunload", function (event) {
      if (!dirty) return;
      event.preventDefault();
      event.returnValue = "";  // the browser asks whether to leave the unsaved form
    });
    form.addEventListener("change", function (event) {
      var target = event.target;
      if (target.name === "source") showSource();
      if (target.name === "schedule") showSchedule();
      if (target.id === "s-object" || target.id === "s-mode") showMode();
      if (target.id === "s-object" || target.id === "s-destination") loadFields().then(function () { changed(true); });
      else changed(target.name === "schedule" || target.closest("[data-schedule]") !== null || target.closest("#s-mappings") !== null);
    });
    // What the user does (not what the page fills in) makes the form unsaved.
    ["input", "change"].forEach(function (kind) { form.addEventListener(kind, function () { dirty = true; }); });
    form.addEventListener("click", function (event) {  // capture: before Remove detaches its row
      if (event.target.closest("#s-add-mapping, #s-suggest, #s-mappings button")) dirty = true;
    }, true);
    form.addEventListener("input", function (event) {
      if (event.target.closest("#s-mappings")) return;  // handled per row
      changed(event.target.closest("[data-schedule]") !== null);
    });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    // A match column named as a field it can match (email → email) picks that field.
    $("s-match-column").addEventListener("change", function () {
      matchChosen = true;
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

  S.start("sync-form", syncForm);
})(window.bcsyncSetup);
