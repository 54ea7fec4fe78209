"use strict";
/* The dashboard reloads its panels (`data-refresh-url`) every `data-refresh-seconds` while the
   tab is shown; a hidden tab reloads nothing and catches up when shown again. The 24 h / 7 d
   switch loads the other period in place (its links also work without this script); an open
   `<details>` stays open. A reply that is not the panels (a session that ended sends the
   login page) stops the reloading. */
(() => {
  const root = document.querySelector(".millrace-dashboard[data-refresh-url]");
  if (!root) return;
  const panels = root.querySelector("#dashboard-panels");
  const every = Math.max(Number(root.dataset.refreshSeconds) || 30, 5) * 1000;
  let timer = null;
  let last = Date.now();
  let stopped = false;

  const load = async (url) => {
    const response = await fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
    const wanted = new URL(url, location.href).pathname;
    if (!response.ok || new URL(response.url).pathname !== wanted) {
      stopped = true;
      const note = panels.querySelector("#dashboard-refreshed");
      if (note) note.textContent = "Not refreshed: reload the page (you may have to log in again).";
      return;
    }
    const open = Array.from(panels.querySelectorAll("details[id][open]"), (details) => details.id);
    panels.innerHTML = await response.text();
    for (const id of open) {
      const details = panels.querySelector("#" + CSS.escape(id));
      if (details) details.open = true;
    }
    last = Date.now();
  };

  const refresh = async () => {
    if (stopped || document.hidden) return;
    try {
      await load(root.dataset.refreshUrl);
    } catch (error) {
      /* the server is away for a moment: the next tick tries again */
    }
  };

  const schedule = () => {
    clearInterval(timer);
    timer = setInterval(refresh, every);
  };

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && Date.now() - last >= every) {
      refresh();
      schedule();
    }
  });

  panels.addEventListener("click", async (event) => {
    const link = event.target.closest(".mr-switch a[data-window]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    const url = new URL(root.dataset.refreshUrl, location.href);
    url.searchParams.set("window", link.dataset.window);
    root.dataset.refreshUrl = url.pathname + url.search;
    history.replaceState(null, "", "?window=" + encodeURIComponent(link.dataset.window));
    stopped = false;
    try {
      await load(root.dataset.refreshUrl);
    } catch (error) {
      location.search = "?window=" + encodeURIComponent(link.dataset.window);
      return;
    }
    const current = panels.querySelector(".mr-switch a[aria-current]");
    if (current) current.focus();
    schedule();
  });

  schedule();
})();
