/* The flow editor: line numbers beside a monospace textarea, problem lines marked.
 *
 * The server lists each problem with its line (`line 4: tasks[1].type: ...`) and puts the
 * lines in the textarea's `data-problem-lines`; here they are marked in the gutter, and a
 * click on a problem selects its line. Without JavaScript the textarea still works.
 */
(function () {
  "use strict";

  function lineOffsets(text, line) {
    const lines = text.split("\n");
    let start = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
    const current = lines[Math.min(line, lines.length) - 1] || "";
    return [start, start + current.length];
  }

  function enhance(textarea) {
    const wrap = document.createElement("div");
    wrap.className = "mr-editor";
    const gutter = document.createElement("pre");
    gutter.className = "mr-gutter";
    gutter.setAttribute("aria-hidden", "true");
    textarea.parentNode.insertBefore(wrap, textarea);
    wrap.appendChild(gutter);
    wrap.appendChild(textarea);

    const bad = new Set(
      (textarea.dataset.problemLines || "").split(",").filter(Boolean).map(Number)
    );

    function render() {
      const count = textarea.value.split("\n").length;
      const parts = [];
      for (let n = 1; n <= count; n++) {
        parts.push(bad.has(n) ? '<span class="mr-bad" data-line="' + n + '">' + n + "</span>" : String(n));
      }
      gutter.innerHTML = parts.join("\n") + "\n";
      gutter.scrollTop = textarea.scrollTop;
    }

    function select(line) {
      const [start, end] = lineOffsets(textarea.value, line);
      textarea.focus();
      textarea.setSelectionRange(start, end);
      const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 18;
      textarea.scrollTop = Math.max(0, (line - 3) * lineHeight);
    }

    textarea.addEventListener("input", render);
    textarea.addEventListener("scroll", function () { gutter.scrollTop = textarea.scrollTop; });
    new ResizeObserver(function () { gutter.scrollTop = textarea.scrollTop; }).observe(textarea);

    const row = textarea.closest(".form-row");
    if (row) {
      row.querySelectorAll(".errorlist li").forEach(function (item) {
        const match = /^line (\d+):/.exec(item.textContent);
        if (!match) return;
        item.classList.add("mr-problem");
        item.title = "Select line " + match[1];
        item.addEventListener("click", function () { select(Number(match[1])); });
      });
    }
    render();
  }

  function start() {
    document.querySelectorAll("textarea.mr-code").forEach(enhance);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
