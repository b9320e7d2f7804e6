// The mapping rows of the sync form (/setup/syncs/...): a row per mapping, column to store field,
// with the field's type, an offer to create a missing customer attribute, and the type check's
// answer per row. The form gives it what it knows (hooks): the model's columns, the store's
// fields, and what to do when a row changes.
"use strict";

(function (S) {
  var API = S.API, $ = S["$"], el = S.el, clear = S.clear, enc = S.enc, call = S.call,
    errorNode = S.errorNode, show = S.show, setOptions = S.setOptions;

  // ``table``: the mappings <table>; ``hooks``: {columnNames(), typeOf(column), fields(),
  // reloadFields() → Promise, changed(live), status (element for "created" messages)}.
  function mappingTable(table, hooks) {
    function fieldInfo(field) { return hooks.fields().filter(function (f) { return f.field === field; })[0] || null; }

    var rowCount = 0;
    function mappingRows() { return Array.prototype.slice.call(table.tBodies[0].rows); }

    function addMapping(column, field) {
      rowCount += 1;
      var id = "m" + rowCount;
      var select = el("select", { id: id + "-column", "aria-label": "Column of mapping " + rowCount });
      setOptions(select, [{ value: "", text: "(column)" }].concat(hooks.columnNames()), column || "");
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
      remove.addEventListener("click", function () {
        // The keyboard stays in the table: the next row's Remove, or else Add a mapping.
        var next = row.nextElementSibling || row.previousElementSibling;
        row.remove();
        (next ? next.querySelector("td:last-child button") : $("s-add-mapping")).focus();
        hooks.changed(true);
      });
      select.addEventListener("change", function () { hooks.changed(true); });
      input.addEventListener("input", function () { describeField(row); hooks.changed(true); });
      table.tBodies[0].appendChild(row);
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
      if (!hooks.fields().length) { info.textContent = ""; return; }
      var attribute = /^attributes\.(.+)$/.exec(value.field);
      if (attribute && $("s-object").value === "customers") {
        info.textContent = "No customer attribute \u201c" + attribute[1] + "\u201d in the store yet.";
        var typeId = row.getAttribute("data-mapping") + "-attr-type";
        var typeSelect = el("select", { id: typeId }, [
          el("option", { value: "string", text: "string" }), el("option", { value: "number", text: "number" }), el("option", { value: "date", text: "date" }),
        ]);
        var columnType = hooks.typeOf(value.column) || "";
        if (/int|float|double|decimal|numeric|real/i.test(columnType)) typeSelect.value = "number";
        else if (/date|time/i.test(columnType)) typeSelect.value = "date";
        var button = el("button", { type: "button", text: "Create attribute \u201c" + attribute[1] + "\u201d" });
        button.addEventListener("click", function () {
          button.disabled = true;
          call("POST", API + "/destinations/" + enc($("s-destination").value) + "/attributes", { name: attribute[1], type: typeSelect.value }).then(function (answer) {
            button.disabled = false;
            if (!answer.ok) { show(create, errorNode(answer)); return; }
            show(hooks.status, el("span", { text: "Created the customer attribute " + attribute[1] + " (" + typeSelect.value + ")." }));
            hooks.reloadFields().then(function () { hooks.changed(true); });
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

    return {
      rows: mappingRows,
      add: addMapping,
      value: rowValue,
      describe: describeField,
      showChecks: showMappingChecks,
    };
  }

  S.mappingTable = mappingTable;
})(window.bcsyncSetup);
