"use strict";
/* The execution page's live updates. The execution socket (session-authenticated) is a doorbell:
   each message it sends makes the page fetch the server-rendered fragment again (the flow graph's
   colours, the timeline, the logs). The log filters (level, step, state changes shown or not)
   live in the fragment too: their choices are kept across refreshes and applied in place. */
(function () {
  const root = document.getElementById("execution-live");
  if (!root) return;
  const state = document.getElementById("live-state");
  let timer = null;
  let cursor = 0;

  function say(text, name) {
    if (!state) return;
    state.textContent = text;
    state.dataset.state = name;
  }

  const LEVELS = ["debug", "info", "warn", "error"];
  const FILTERS = ["log-level", "log-step", "log-lifecycle"];

  function filterLogs() {
    const level = document.getElementById("log-level");
    const step = document.getElementById("log-step");
    const lifecycle = document.getElementById("log-lifecycle");
    const minimum = Math.max(0, LEVELS.indexOf(level ? level.value : "debug"));
    root.querySelectorAll("tr.log-row").forEach((row) => {
      const shown =
        (!row.classList.contains("lifecycle") || (lifecycle && lifecycle.checked)) &&
        (!step || !step.value || row.dataset.step === step.value) &&
        LEVELS.indexOf(row.dataset.level) >= minimum;
      row.hidden = !shown;
    });
  }

  function filterChoices() {
    const kept = {};
    FILTERS.forEach((id) => {
      const element = document.getElementById(id);
      if (element) kept[id] = element.type === "checkbox" ? element.checked : element.value;
    });
    return kept;
  }

  function restoreChoices(kept) {
    Object.entries(kept).forEach(([id, value]) => {
      const element = document.getElementById(id);
      if (!element) return;
      if (element.type === "checkbox") {
        element.checked = value;
      } else if (Array.from(element.options).some((option) => option.value === value)) {
        element.value = value;
      }
    });
    filterLogs();
  }

  root.addEventListener("change", (event) => {
    if (FILTERS.includes(event.target.id)) filterLogs();
  });

  function summary() {
    return root.querySelector(".execution-summary");
  }

  async function refresh() {
    timer = null;
    const open = Array.from(root.querySelectorAll("details[open]"), (element) => element.id);
    const kept = filterChoices();
    try {
      const response = await fetch(root.dataset.liveUrl, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) return;
      root.innerHTML = await response.text();
    } catch (error) {
      return;
    }
    open.forEach((id) => {
      const element = document.getElementById(id);
      if (element) element.open = true;
    });
    restoreChoices(kept);
  }

  function soon() {
    if (timer === null) timer = setTimeout(refresh, 250);
  }

  function connect() {
    const current = summary();
    if (current && current.dataset.terminal === "true") {
      say("the execution has ended", "ended");
      return;
    }
    if (current) cursor = Math.max(cursor, Number(current.dataset.cursor || 0));
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + window.location.host + root.dataset.socketPath + "&since=" + cursor);
    socket.onopen = () => say("live", "live");
    socket.onmessage = (message) => {
      try {
        const data = JSON.parse(message.data);
        if (data.event_id) cursor = Math.max(cursor, data.event_id);
      } catch (error) {
        /* not JSON: still a doorbell */
      }
      soon();
    };
    socket.onclose = async (event) => {
      await refresh();
      if (event.code === 1000) {
        say("the execution has ended", "ended");
      } else if (event.code >= 4000) {
        say("not available (" + event.code + ")", "refused");
      } else {
        say("reconnecting…", "reconnecting");
        setTimeout(connect, 2000);
      }
    };
  }

  filterLogs();
  connect();
})();
