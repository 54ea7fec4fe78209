"""Readability checks run in the page: text contrast against what is behind it, and content
that runs off to the right of its box."""

#: WCAG's contrast ratio of each element's own text against the first opaque background behind
#: it, and of SVG labels against the box they sit in; texts below `min` are returned.
LOW_CONTRAST_JS = """
(min) => {
  const parse = (value) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(value || "");
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const ratio = (a, b) => {
    const x = lum(a), y = lum(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  };
  const behind = (element) => {
    for (let e = element; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return parse(getComputedStyle(document.documentElement).backgroundColor) || { r: 255, g: 255, b: 255, a: 1 };
  };
  const found = [];
  for (const element of document.querySelectorAll("body *")) {
    if (element.closest("svg") || !element.getClientRects().length) continue;
    const own = Array.from(element.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(element);
    if (!own || style.visibility === "hidden" || Number(style.opacity) < 0.5) continue;
    const fg = parse(style.color);
    if (fg && fg.a > 0.5 && ratio(fg, behind(element)) < min) {
      const name = element.tagName.toLowerCase() + "." + element.className;
      found.push(name + ": " + element.textContent.trim().slice(0, 40));
    }
  }
  for (const text of document.querySelectorAll("svg text")) {
    const box = text.closest("g") && text.closest("g").querySelector("rect");
    const fill = parse(getComputedStyle(text).fill);
    const back = box ? parse(getComputedStyle(box).fill) : null;
    const under = back && back.a > 0.5 ? back : behind(text.closest("svg"));
    if (fill && ratio(fill, under) < min) found.push("svg text: " + text.textContent.trim().slice(0, 40));
  }
  return found;
}
"""

#: Elements whose content is wider than their box while the box neither scrolls nor wraps it
#: away (`overflow: visible` children sticking out past the page), and boxes that scroll sideways.
OVERFLOWING_JS = """
() => {
  const found = [];
  const page = document.documentElement.clientWidth;
  for (const element of document.querySelectorAll("#content *")) {
    const rect = element.getBoundingClientRect();
    if (!rect.width) continue;
    const style = getComputedStyle(element);
    if (rect.right > page + 1) found.push("past the page: " + element.tagName.toLowerCase() + "." + element.className);
    if (["auto", "scroll"].includes(style.overflowX) && element.scrollWidth > element.clientWidth + 1) {
      found.push("scrolls sideways: " + element.tagName.toLowerCase() + "." + element.className);
    }
  }
  return found;
}
"""


def low_contrast(page, minimum: float = 3.0) -> list[str]:
    """Texts on the page whose contrast is below `minimum` (3: WCAG AA for large text and UI)."""
    return page.evaluate(LOW_CONTRAST_JS, minimum)


def overflowing(page) -> list[str]:
    """What in the content area runs off to the right, or has to be scrolled sideways."""
    return page.evaluate(OVERFLOWING_JS)
