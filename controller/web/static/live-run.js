// Keeps a running run's page current: every second, fetch the flows finished so far (a
// server-rendered fragment) and the run's state; stop once the run has ended, then reload
// once so that the whole page (result, statuses, re-run form) shows the end. Steps someone
// opened or closed stay so across updates.
(function () {
  const flows = document.getElementById("flows");
  if (!flows || flows.dataset.live !== "true") return;
  const run = flows.dataset.run;
  async function tick() {
    try {
      const answer = await fetch(`/runs/${run}/flows`, { headers: { Accept: "text/html" } });
      if (answer.ok) {
        const opened = new Map([...flows.querySelectorAll("details[data-key]")].map((d) => [d.dataset.key, d.open]));
        flows.innerHTML = await answer.text();
        for (const details of flows.querySelectorAll("details[data-key]")) {
          if (opened.has(details.dataset.key)) details.open = opened.get(details.dataset.key);
        }
        const state = answer.headers.get("X-Run-State");
        const badge = document.getElementById("run-state");
        if (badge && state) { badge.textContent = state; badge.className = `state ${state}`; }
        if (answer.headers.get("X-Run-Ended") === "true") { window.location.reload(); return; }
      }
    } catch (error) { /* the server restarts or the network hiccups: try again */ }
    setTimeout(tick, 1000);
  }
  setTimeout(tick, 1000);
})();
