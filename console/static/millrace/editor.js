/* The flow editor: CodeMirror 6 (vendor/codemirror.bundle.js, global `MillraceCM`) over the
 * flow's YAML textarea.
 *
 * - YAML highlighting; the textarea stays the form field and is kept in sync, so the form
 *   posts as before (and without JavaScript the plain textarea still works).
 * - Validation as you type: 400 ms after the last change the YAML is posted to the
 *   textarea's `data-validate-url` (the console's session and CSRF token); each problem is
 *   marked on its line and listed under the editor (a click selects its line).
 * - Completion (Ctrl+Space, or while typing) of plugin types after `type:`, Kestra's type
 *   names too, and of the properties of the task's plugin, from the catalog the page embeds
 *   (`#mr-editor-catalog`, a json_script).
 * - A panel beside the editor with the documentation and example of the plugin of the task
 *   under the cursor.
 * A read-only `textarea.mr-code` (the convert page) is only highlighted.
 */
(function () {
  "use strict";

  const CM = window.MillraceCM;
  const VALIDATE_DELAY = 400;
  const ITEM = /^(\s*)(-\s+)?/;
  const TYPE_LINE = /^\s*(?:-\s+)?type:\s*["']?([\w.$-]+)/;

  function catalogOnPage() {
    const node = document.getElementById("mr-editor-catalog");
    return node ? JSON.parse(node.textContent) : { plugins: {}, kestra: {} };
  }

  function csrfToken() {
    const field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  /* --- The YAML's shape around a line, read from indentation -------------------------- */

  function keyColumn(text) {
    return ITEM.exec(text)[0].length;
  }

  function blank(text) {
    return /^\s*(#.*)?$/.test(text);
  }

  function startsItem(text, column) {
    const match = ITEM.exec(text);
    return Boolean(match[2]) && match[0].length === column;
  }

  /* The `type:` among the keys at `column` of the mapping that holds line `number`. */
  function siblingType(doc, number, column) {
    for (let n = number; n >= 1; n--) {
      const text = doc.line(n).text;
      if (blank(text)) continue;
      const col = keyColumn(text);
      if (col < column) break;
      if (col === column) {
        const match = TYPE_LINE.exec(text);
        if (match) return { type: match[1], line: n };
        if (startsItem(text, column)) break;
      }
    }
    for (let n = number + 1; n <= doc.lines; n++) {
      const text = doc.line(n).text;
      if (blank(text)) continue;
      const col = keyColumn(text);
      if (col < column || startsItem(text, column)) break;
      if (col === column) {
        const match = TYPE_LINE.exec(text);
        if (match) return { type: match[1], line: n };
      }
    }
    return null;
  }

  /* The nearest line above `number` with a smaller key column: the key that holds it. */
  function parentLine(doc, number, column) {
    for (let n = number - 1; n >= 1; n--) {
      const text = doc.line(n).text;
      if (!blank(text) && keyColumn(text) < column) return n;
    }
    return 0;
  }

  function resolve(catalog, type) {
    if (catalog.plugins[type]) return { id: type, plugin: catalog.plugins[type], kestra: null };
    const kestra = catalog.kestra[type];
    if (kestra && catalog.plugins[kestra.plugin]) {
      return { id: kestra.plugin, plugin: catalog.plugins[kestra.plugin], kestra: kestra };
    }
    return null;
  }

  /* The plugin of the innermost task holding line `number`, or null. */
  function taskAt(catalog, doc, number) {
    let n = number;
    while (n >= 1 && blank(doc.line(n).text)) n--;
    while (n >= 1) {
      const column = keyColumn(doc.line(n).text);
      const found = siblingType(doc, n, column);
      if (found) {
        const plugin = resolve(catalog, found.type);
        if (plugin) return plugin;
      }
      n = parentLine(doc, n, column);
    }
    return null;
  }

  /* --- Completion ------------------------------------------------------------------- */

  function typeOptions(catalog) {
    const own = Object.keys(catalog.plugins).map(function (id) {
      const plugin = catalog.plugins[id];
      return { label: id, type: "class", detail: plugin.category, info: plugin.description };
    });
    const kestra = Object.keys(catalog.kestra).map(function (name) {
      return { label: name, type: "class", detail: "Kestra → " + catalog.kestra[name].plugin };
    });
    return { own: own, all: own.concat(kestra) };
  }

  function propertyOptions(catalog, found) {
    if (found.kestra) {
      const known = {};
      found.plugin.properties.forEach(function (p) { known[p.name] = p; });
      return found.kestra.properties.map(function (name) {
        const p = known[name];
        return { label: name, type: "property", apply: name + ": ", detail: p ? p.type : "", info: p ? p.description : "" };
      });
    }
    return found.plugin.properties.map(function (p) {
      return {
        label: p.name,
        type: "property",
        apply: p.name + ": ",
        detail: p.type + (p.required ? " · required" : ""),
        info: p.description,
        boost: p.required ? 1 : 0,
      };
    });
  }

  function completionSource(catalog) {
    const types = typeOptions(catalog);
    return function (context) {
      const line = context.state.doc.lineAt(context.pos);
      const before = line.text.slice(0, context.pos - line.from);
      const typed = /^\s*(?:-\s+)?type:\s*["']?([\w.$-]*)$/.exec(before);
      if (typed) {
        // Kestra's long names only once `io` is typed: Millrace's own names stay in front.
        const kestra = /^io/.test(typed[1]);
        return {
          from: context.pos - typed[1].length,
          options: kestra ? types.all : types.own,
          validFor: kestra ? /^[\w.$-]*$/ : /^(?!io)[\w.$-]*$/,
        };
      }
      const key = /^(\s*)(?:-\s+)?(\w*)$/.exec(before);
      if (!key || (!key[2] && !context.explicit)) return null;
      const doc = context.state.doc;
      const column = before.length - key[2].length;
      // Kestra: the properties sit beside `type:`; the other formats: under `properties:`/`params:`.
      const beside = siblingType(doc, line.number, column);
      let found = beside && resolve(catalog, beside.type);
      if (found && !found.kestra) found = null;
      if (!found) {
        const parent = parentLine(doc, line.number, column);
        if (parent && /^\s*(?:-\s+)?(properties|params):\s*$/.test(doc.line(parent).text)) {
          const owner = siblingType(doc, parent, keyColumn(doc.line(parent).text));
          found = owner && resolve(catalog, owner.type);
        }
      }
      if (!found) return null;
      return { from: context.pos - key[2].length, options: propertyOptions(catalog, found), validFor: /^\w*$/ };
    };
  }

  /* --- Validation ------------------------------------------------------------------- */

  function problemsList(above) {
    const list = document.createElement("ul");
    list.className = "mr-live-problems";
    list.setAttribute("aria-live", "polite");
    above.after(list);
    return list;
  }

  function selectLine(view, number) {
    const line = view.state.doc.line(Math.max(1, Math.min(number, view.state.doc.lines)));
    view.dispatch({ selection: { anchor: line.from, head: line.to }, scrollIntoView: true });
    view.focus();
  }

  function showProblems(view, list, errors) {
    list.replaceChildren();
    list.hidden = errors.length === 0;
    errors.forEach(function (error) {
      const item = document.createElement("li");
      item.className = "mr-problem";
      item.textContent = (error.line ? "line " + error.line + ": " : "") + (error.path || "(flow)") + ": " + error.message;
      if (error.line) {
        item.dataset.line = error.line;
        item.title = "Select line " + error.line;
        item.addEventListener("click", function () { selectLine(view, error.line); });
      }
      list.appendChild(item);
    });
  }

  function validator(textarea, list, status, lines) {
    return async function (view) {
      const source = view.state.doc.toString();
      if (!source.trim()) { // nothing written yet: nothing to complain about
        status.textContent = "";
        showProblems(view, list, []);
        view.dispatch({ effects: lines.set.of([]) });
        return [];
      }
      const body = new FormData();
      body.append("source", source);
      const select = document.getElementById("id_namespace");
      body.append("namespace", (select && select.value) || textarea.dataset.namespace || "");
      let result;
      try {
        const response = await fetch(textarea.dataset.validateUrl, {
          method: "POST",
          body: body,
          credentials: "same-origin",
          headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
        });
        if (!response.ok) throw new Error("HTTP " + response.status);
        result = await response.json();
      } catch (error) {
        status.textContent = "Could not check the YAML (" + error.message + ").";
        status.className = "mr-editor-status mr-unknown";
        return [];
      }
      const errors = result.errors || [];
      status.textContent = errors.length ? errors.length + (errors.length === 1 ? " problem" : " problems") : "Valid";
      status.className = "mr-editor-status " + (errors.length ? "mr-invalid" : "mr-valid");
      showProblems(view, list, errors);
      view.dispatch({ effects: lines.set.of(errors.map(function (error) { return error.line; }).filter(Boolean)) });
      const doc = view.state.doc;
      return errors.map(function (error) {
        const line = doc.line(Math.max(1, Math.min(error.line || 1, doc.lines)));
        return { from: line.from, to: line.to, severity: "error", message: (error.path || "(flow)") + ": " + error.message };
      });
    };
  }

  /* The numbers of the problem lines, marked in the line-number gutter (`.mr-gutter .mr-bad`):
   * first those the server refused at the last save (`data-problem-lines`), then the live ones. */
  function problemLines(textarea) {
    const setLines = CM.StateEffect.define();
    const bad = new (class extends CM.GutterMarker {})();
    bad.elementClass = "mr-bad";
    function marks(doc, numbers) {
      const valid = numbers.filter(function (n) { return n >= 1 && n <= doc.lines; });
      const unique = Array.from(new Set(valid)).sort(function (a, b) { return a - b; });
      return CM.RangeSet.of(unique.map(function (n) { return bad.range(doc.line(n).from); }));
    }
    const field = CM.StateField.define({
      create: function (state) {
        const given = (textarea.dataset.problemLines || "").split(",").filter(Boolean).map(Number);
        return marks(state.doc, given);
      },
      update: function (value, tr) {
        for (const effect of tr.effects) if (effect.is(setLines)) return marks(tr.state.doc, effect.value);
        return tr.docChanged ? value.map(tr.changes) : value;
      },
      provide: function (f) { return CM.gutterLineClass.from(f); },
    });
    return { extension: field, set: setLines };
  }

  /* --- The documentation panel ------------------------------------------------------ */

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function renderDoc(panel, found, referenceUrl) {
    panel.replaceChildren();
    if (!found) {
      panel.dataset.plugin = "";
      panel.appendChild(element("h3", "", "Plugin documentation"));
      panel.appendChild(element("p", "mr-muted", "Put the cursor in a task to see its plugin's documentation and example."));
      return;
    }
    const plugin = found.plugin;
    panel.dataset.plugin = found.id;
    const title = element("h3", "", plugin.name + " ");
    title.appendChild(element("code", "", found.id));
    panel.appendChild(title);
    if (plugin.summary) {
      const summary = element("p", "mr-plugin-description");
      summary.innerHTML = plugin.summary; // escaped, then given its code spans, on the server
      panel.appendChild(summary);
    }
    const doc = element("div", "mr-plugin-doc-text");
    doc.innerHTML = plugin.doc; // rendered on the server from escaped text (console/plugin_reference.py)
    panel.appendChild(doc);
    if (plugin.properties.length) {
      panel.appendChild(element("h4", "", "Properties"));
      const list = element("dl", "mr-plugin-properties");
      plugin.properties.forEach(function (p) {
        const term = element("dt", "", "");
        term.appendChild(element("code", "", p.name));
        term.appendChild(document.createTextNode(" " + p.type + (p.required ? " (required)" : "")));
        list.appendChild(term);
        list.appendChild(element("dd", "", p.description));
      });
      panel.appendChild(list);
    }
    if (plugin.example) {
      panel.appendChild(element("h4", "", "Example"));
      panel.appendChild(element("pre", "mr-plugin-example", plugin.example));
    }
    if (referenceUrl) {
      const link = element("a", "", "In the plugin reference →");
      link.href = referenceUrl + "#" + plugin.anchor;
      panel.appendChild(element("p", "", "")).appendChild(link);
    }
  }

  /* --- Putting it together ------------------------------------------------------------ */

  function theme() {
    return [CM.syntaxHighlighting(CM.classHighlighter)];
  }

  /* The textarea stays in the form, out of sight but still a field: text put into it by
   * other means (a password manager, a browser test filling it) goes on into the editor. */
  function stepAside(textarea, view) {
    textarea.classList.add("mr-editor-field");
    textarea.tabIndex = -1;
    textarea.setAttribute("aria-hidden", "true");
    textarea.mrEditor = view;
    textarea.addEventListener("input", function () {
      const text = textarea.value.replace(/\r\n/g, "\n");
      if (text !== view.state.doc.toString()) {
        view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
      }
    });
  }

  function readOnly(textarea) {
    const wrap = element("div", "mr-editor mr-readonly");
    textarea.parentNode.insertBefore(wrap, textarea);
    const view = new CM.EditorView({
      doc: textarea.value,
      parent: wrap,
      extensions: [CM.basicSetup, CM.yaml(), theme(), CM.EditorState.readOnly.of(true)],
    });
    stepAside(textarea, view);
  }

  function enhance(textarea) {
    if (textarea.readOnly) return readOnly(textarea);
    const catalog = catalogOnPage();
    const wrap = element("div", "mr-editor");
    const main = element("div", "mr-editor-main");
    const status = element("p", "mr-editor-status", "");
    const panel = element("aside", "mr-plugin-panel");
    panel.setAttribute("aria-label", "Plugin documentation");
    textarea.parentNode.insertBefore(wrap, textarea);
    wrap.appendChild(main);
    wrap.appendChild(panel);
    wrap.after(status);
    const list = problemsList(status);
    list.hidden = true;
    const referenceUrl = textarea.dataset.referenceUrl || "";
    let shown = null;
    const lines = problemLines(textarea);

    function follow(view) {
      const number = view.state.doc.lineAt(view.state.selection.main.head).number;
      const found = taskAt(catalog, view.state.doc, number);
      const id = found ? found.id : "";
      if (id === shown) return;
      shown = id;
      renderDoc(panel, found, referenceUrl);
    }

    const view = new CM.EditorView({
      doc: textarea.value,
      parent: main,
      extensions: [
        CM.basicSetup,
        CM.yaml(),
        theme(),
        CM.autocompletion({ override: [completionSource(catalog)], activateOnTyping: true }),
        CM.lintGutter(),
        lines.extension,
        CM.linter(validator(textarea, list, status, lines), { delay: VALIDATE_DELAY }),
        CM.EditorView.updateListener.of(function (update) {
          if (update.docChanged) textarea.value = update.state.doc.toString();
          if (update.docChanged || update.selectionSet) follow(update.view);
        }),
        CM.EditorView.contentAttributes.of({ "aria-label": "Flow YAML", "data-gramm": "false" }),
      ],
    });
    stepAside(textarea, view);
    const numbers = view.dom.querySelector(".cm-lineNumbers");
    if (numbers) numbers.classList.add("mr-gutter");
    follow(view);

    const form = textarea.form;
    if (form) form.addEventListener("submit", function () { textarea.value = view.state.doc.toString(); });
    const namespace = document.getElementById("id_namespace");
    if (namespace) namespace.addEventListener("change", function () { CM.forceLinting(view); });

    // The problems the server found when the form came back: a click selects their line.
    const row = textarea.closest(".form-row");
    if (row) {
      row.querySelectorAll(".errorlist li").forEach(function (item) {
        const match = /^line (\d+):/.exec(item.textContent);
        if (!match) return;
        item.classList.add("mr-problem");
        item.title = "Select line " + match[1];
        item.addEventListener("click", function () { selectLine(view, Number(match[1])); });
      });
    }
  }

  function start() {
    if (!CM) return; // the bundle did not load: the plain textarea stays
    document.querySelectorAll("textarea.mr-code").forEach(enhance);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
