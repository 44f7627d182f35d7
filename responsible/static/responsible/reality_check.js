// Reality checks on the /play/ page (responsible gambling, docs/responsible-gambling.md).
//
// Loaded before the page's own script and kept apart from it: it watches every game-session
// socket the page opens, shows the server's {"type":"reality_check"} message (time played and
// net position) over the game, and answers {"type":"reality_check_ack"} when the player
// chooses to continue. The server refuses bets until then, so the overlay is only the view.
(function () {
  "use strict";
  const Native = window.WebSocket;
  if (!Native || Native.__realityChecks) return;

  function duration(seconds) {
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
    return h ? `${h} h ${m} min` : `${m} min ${seconds % 60} s`;
  }

  function overlay() {
    let box = document.getElementById("reality-check");
    if (box) return box;
    box = document.createElement("div");
    box.id = "reality-check";
    box.setAttribute("role", "alertdialog");
    box.setAttribute("aria-modal", "true");
    box.setAttribute("aria-labelledby", "reality-check-title");
    box.style.cssText = "position:fixed;inset:0;background:rgba(0,0,0,.55);display:none;" +
      "align-items:center;justify-content:center;z-index:1000";
    box.innerHTML =
      '<div style="background:#fff;padding:1.5rem;border-radius:.5rem;max-width:24rem">' +
      '<h2 id="reality-check-title" style="margin-top:0">Reality check</h2>' +
      '<p>You have been playing for <strong id="reality-check-elapsed"></strong>.</p>' +
      '<p>Net result this session: <strong id="reality-check-net"></strong></p>' +
      '<p><small>Play is paused until you choose.</small></p>' +
      '<button id="reality-check-continue" type="button">Continue playing</button> ' +
      '<a href="/api/v1/responsible/" id="reality-check-limits">My limits</a>' +
      "</div>";
    document.body.appendChild(box);
    return box;
  }

  function show(ws, msg) {
    const box = overlay();
    document.getElementById("reality-check-elapsed").textContent = duration(msg.elapsed_s);
    const net = msg.net.startsWith("-") ? msg.net : `+${msg.net}`;
    document.getElementById("reality-check-net").textContent = `${net} ${msg.currency}`;
    const button = document.getElementById("reality-check-continue");
    button.onclick = () => {
      if (ws.readyState === Native.OPEN) ws.send(JSON.stringify({ type: "reality_check_ack" }));
    };
    box.style.display = "flex";
    button.focus();
  }

  function hide() {
    const box = document.getElementById("reality-check");
    if (box) box.style.display = "none";
  }

  class WatchedSocket extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      if (!String(url).includes("/ws/games/sessions/")) return;
      this.addEventListener("message", (ev) => {
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg.type === "reality_check") show(this, msg);
        else if (msg.type === "reality_check_acknowledged" || msg.type === "session_closed") hide();
      });
      this.addEventListener("close", hide);
    }
  }
  WatchedSocket.__realityChecks = true;
  window.WebSocket = WatchedSocket;
})();
