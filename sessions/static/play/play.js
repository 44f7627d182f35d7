"use strict";
// The /play/ page: log in through the API, start a game session, play hilo over its
// WebSocket. A static file (no inline script) so the page works under a strict CSP.
(() => {
  const $ = (id) => document.getElementById(id);
  const CARD = {1: "A", 11: "J", 12: "Q", 13: "K"};
  const cardName = (n) => (n ? (CARD[n] || String(n)) : "·");
  const uuid = () => (crypto.randomUUID ? crypto.randomUUID() :
    "10000000-1000-4000-8000-100000000000".replace(/[018]/g, c =>
      (c ^ crypto.getRandomValues(new Uint8Array(1))[0] & 15 >> c / 4).toString(16)));

  // What a player reads for each refusal (the server's code stays in data-code).
  const MESSAGES = {
    invalid_amount: (d) => `That stake is not valid: ${d}`,
    unknown_currency: () => "This currency is not available.",
    insufficient_funds: () => "Your balance is too low for this stake.",
    stake_out_of_range: (d) => d,
    round_already_open: () => "Finish the open round before betting again.",
    round_not_open: () => "This round is already over.",
    round_not_found: () => "This round is not part of your session any more.",
    round_id_reused: () => "That bet was already placed with another stake.",
    impossible_guess: () => "That guess cannot win with this card: pick the other one.",
    kyc_required: () => "Verify your identity before playing.",
    account_restricted: () => "Your account cannot play at the moment. Please contact support.",
    invalid_message: () => "The game did not understand that action. Reload the page and try again.",
    server_error: () => "Something went wrong on our side. Your balance is safe; please try again.",
  };
  const humanError = (code, detail) =>
    (MESSAGES[code] ? MESSAGES[code](detail || "") : detail) || "That did not work; please try again.";

  const FINAL_HINTS = {
    superseded: "This session was taken over by a newer login. Start a new session to play here.",
    expired: "The session expired (no heartbeat). Open rounds were voided and their stakes returned.",
    closed: "Support closed this session. Open rounds were voided and their stakes returned.",
    unauthorized: "Not authorized for this session.",
  };

  const st = {
    token: sessionStorage.getItem("play.token") || "",
    session: null,        // {id, ws_url, heartbeat_interval_s, timeout_s, currency}
    ws: null,
    state: "disconnected",
    synced: false,        // a session_state arrived on the current socket
    pending: null,        // "bet" | "guess" while the server has not answered
    lastAck: 0,           // when the server last answered (the latest it can have seen us)
    round: null,          // the open round {round_id, card}
    retry: 0,
    hbTimer: null,
    reconnectTimer: null,
    final: false,         // the session ended: never reconnect to it
    balanceStale: false,  // the session ended while offline: reload the balance when back
  };

  function log(msg) {
    const line = `${new Date().toISOString().slice(11, 23)} ${msg}\n`;
    $("log").textContent = (line + $("log").textContent).slice(0, 4000);
  }

  // In sync = an open socket that resumed the session, heard a heartbeat ack recently, is
  // online, and has no bet or guess waiting for the server's answer.
  function inSync() {
    if (!st.ws || st.ws.readyState !== WebSocket.OPEN || !st.synced || st.final) return false;
    if (!navigator.onLine) return false;
    const interval = (st.session ? st.session.heartbeat_interval_s : 5) * 1000;
    if (Date.now() - st.lastAck > 2 * interval + 1000) return false;
    return !st.pending;
  }

  // The server expires a session timeout_s after the last heartbeat it received, which is
  // no later than its last answer to us: past that, the session is over even if we cannot
  // hear the close (offline), so say so at once instead of "reconnecting".
  function timedOut() {
    return !st.final && st.session && st.lastAck > 0 &&
      Date.now() - st.lastAck > st.session.timeout_s * 1000;
  }

  function render() {
    if (timedOut()) endSession("expired", "timeout passed without contact");
    let state = st.state;
    let hint = "";
    if (!st.final && st.session) {
      const fresh = st.ws && st.ws.readyState === WebSocket.OPEN && st.synced && navigator.onLine &&
        Date.now() - st.lastAck <= 2 * st.session.heartbeat_interval_s * 1000 + 1000;
      if (!fresh) { state = st.state === "connecting" ? "connecting" : "reconnecting";
                    hint = "Reconnecting… the balance shown may be out of date; betting is paused."; }
      else if (st.pending) { state = "updating"; hint = "Balance updating…"; }
      else { state = "in-sync"; }
    }
    if (FINAL_HINTS[state]) hint = FINAL_HINTS[state];
    $("conn").dataset.state = state;
    $("conn-state").textContent = state;
    $("sync-hint").textContent = hint;
    $("balance-note").textContent = st.final && st.balanceStale
      ? "Balance will refresh when you are back online." : "";
    const ok = inSync();
    $("bet-btn").disabled = !ok || !!st.round;
    $("higher-btn").disabled = !ok || !st.round || st.round.card === 13;
    $("lower-btn").disabled = !ok || !st.round || st.round.card === 1;
  }
  setInterval(render, 250);

  async function api(path, body, extraHeaders) {
    const headers = {"Content-Type": "application/json", ...(extraHeaders || {})};
    if (st.token) headers["Authorization"] = `Bearer ${st.token}`;
    const resp = await fetch(path, {method: body ? "POST" : "GET", headers,
                                    body: body ? JSON.stringify(body) : undefined});
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      throw Object.assign(new Error(humanError(data.code, data.detail || resp.statusText)),
                          {data, status: resp.status});
    }
    return data;
  }

  function setBalance(msg) {
    if (msg.balance !== undefined) $("balance").textContent = msg.balance;
    if (msg.reserved !== undefined) $("reserved").textContent = msg.reserved;
    if (msg.currency) $("currency-label").textContent = msg.currency;
  }

  // The wallet as the server holds it now (after a session ended and released its round).
  async function reloadBalance() {
    if (!st.session) return;
    if (!navigator.onLine) { st.balanceStale = true; return; }
    const currency = st.session.currency || $("currency").value;
    try {
      const wallets = await api("/api/v1/wallets/");
      const w = wallets.find((x) => x.currency === currency) ||
        {currency, available: "0", reserved: "0"};
      setBalance({balance: w.available, reserved: w.reserved, currency});
      st.balanceStale = false;
      log(`balance reloaded: ${w.available} ${currency}, reserved ${w.reserved}`);
    } catch (e) {
      st.balanceStale = true;
      log(`balance reload failed: ${e.message}`);
    }
    render();
  }

  function showRound(msg) {
    st.round = {round_id: msg.round_id, card: msg.card};
    $("card").textContent = cardName(msg.card);
    $("next-card").textContent = "·";
    $("mult-higher").textContent = msg.multipliers && msg.multipliers.higher ? `×${msg.multipliers.higher}` : "";
    $("mult-lower").textContent = msg.multipliers && msg.multipliers.lower ? `×${msg.multipliers.lower}` : "";
    $("result").textContent = `Round open: stake ${msg.stake} reserved.`;
    $("result").className = "";
  }

  function clearRound() {
    st.round = null; st.pending = null;
    $("card").textContent = "·"; $("next-card").textContent = "·";
    $("mult-higher").textContent = ""; $("mult-lower").textContent = "";
    $("result").textContent = ""; $("result").className = "";
  }

  function stopTimers() {
    clearInterval(st.hbTimer); st.hbTimer = null;
    clearTimeout(st.reconnectTimer); st.reconnectTimer = null;
  }

  // The session is over (expired, closed by staff, superseded): whatever round it held was
  // voided server-side, so drop it here and show the balance the server now has.
  function endSession(state, why) {
    if (st.final) return;
    st.final = true; st.state = state; st.synced = false;
    stopTimers();
    clearRound();
    if (st.ws) { const old = st.ws; st.ws = null; try { old.close(); } catch (e) { /* gone */ } }
    log(`session ${state}${why ? `: ${why}` : ""}`);
    reloadBalance();
  }

  function heartbeat() {
    // Offline, a heartbeat cannot leave; the server's timer then expires the session.
    if (st.ws && st.ws.readyState === WebSocket.OPEN && navigator.onLine) {
      st.ws.send(JSON.stringify({type: "heartbeat"}));
    }
  }

  function connect() {
    if (!st.session || st.final) return;
    if (st.ws && st.ws.readyState <= WebSocket.OPEN) return;
    st.synced = false;
    st.state = st.retry ? "reconnecting" : "connecting";
    const ws = new WebSocket(st.session.ws_url);
    st.ws = ws;
    ws.onmessage = (ev) => { if (st.ws === ws) onMessage(JSON.parse(ev.data)); };
    ws.onclose = (ev) => { if (st.ws === ws) onClose(ev); };
  }

  function onMessage(msg) {
    switch (msg.type) {
      case "session_state":
        st.synced = true; st.retry = 0; st.lastAck = Date.now(); st.pending = null; st.state = "open";
        setBalance(msg);
        if (msg.open_round) showRound(msg.open_round);
        else { st.round = null; }
        clearInterval(st.hbTimer);
        st.hbTimer = setInterval(heartbeat, st.session.heartbeat_interval_s * 1000);
        log(`session resumed, balance ${msg.balance}`);
        break;
      case "heartbeat_ack":
        st.lastAck = Date.now();
        break;
      case "bet_accepted":
        st.pending = null; st.lastAck = Date.now();
        setBalance(msg); showRound(msg);
        log(`bet accepted: card ${cardName(msg.card)}, balance ${msg.balance}`);
        break;
      case "round_settled":
        st.pending = null; st.lastAck = Date.now(); st.round = null;
        setBalance(msg);
        $("next-card").textContent = cardName(msg.next_card);
        $("result").textContent = msg.outcome === "won" ? `Won ${msg.payout}!` : `Lost ${msg.stake}.`;
        $("result").className = "";
        log(`round ${msg.outcome}: payout ${msg.payout}, balance ${msg.balance}`);
        break;
      case "error":
        st.pending = null; st.lastAck = Date.now();
        $("result").textContent = humanError(msg.code, msg.detail);
        $("result").className = "error";
        $("result").dataset.code = msg.code || "";
        log(`refused: ${msg.code}`);
        break;
      case "session_closed":
        log(`session closed: ${msg.status} ${msg.reason || ""}`);
        break;
    }
    render();
  }

  const FINAL = {4001: "superseded", 4002: "expired", 4003: "unauthorized", 4004: "closed"};

  function onClose(ev) {
    clearInterval(st.hbTimer); st.hbTimer = null;
    st.synced = false;
    if (FINAL[ev.code]) {
      st.ws = null;
      endSession(FINAL[ev.code], `socket closed ${ev.code}`);
      return;
    }
    // A drop: resume the same session (its open round included) while it is within its timeout.
    st.retry += 1;
    st.state = "reconnecting";
    const delay = Math.min(1000 * st.retry, 5000);
    log(`socket dropped (${ev.code}); reconnecting in ${delay} ms`);
    st.reconnectTimer = setTimeout(connect, delay);
  }

  async function startSession() {
    stopTimers();
    if (st.ws) { const old = st.ws; st.ws = null; old.close(); }
    st.final = false; st.round = null; st.pending = null; st.retry = 0; st.lastAck = 0;
    st.balanceStale = false;
    st.state = "connecting";
    clearRound();
    const currency = $("currency").value;
    const s = await api("/api/v1/games/sessions/", {game: "hilo", currency},
                        {"Idempotency-Key": uuid()});
    st.session = {currency, ...s};
    sessionStorage.setItem("play.session", JSON.stringify(st.session));
    $("session-id").textContent = s.id;
    log(`session ${s.id} started`);
    connect();
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("login-error").textContent = "";
    try {
      const r = await api("/api/v1/auth/token/", {username: $("username").value, password: $("password").value});
      st.token = r.token;
      sessionStorage.setItem("play.token", r.token);
      $("login-form").classList.add("hidden");
      $("game").classList.remove("hidden");
      await startSession();
    } catch (e) {
      $("login-error").textContent = `Login failed: ${e.message}`;
    }
  });

  $("start-btn").addEventListener("click", () => startSession().catch((e) => {
    $("result").textContent = `Could not start a session: ${e.message}`;
    $("result").className = "error";
    log(`start failed: ${e.message}`);
  }));

  $("bet-btn").addEventListener("click", () => {
    // Never act on a stale balance: refuse while not in sync, and say why.
    if (!inSync() || st.round) { $("result").textContent = "Not in sync yet: wait for the balance to update."; return; }
    const roundId = uuid();
    st.pending = "bet";
    st.ws.send(JSON.stringify({type: "bet", round_id: roundId, stake: $("stake").value.trim()}));
    render();
  });

  for (const choice of ["higher", "lower"]) {
    $(`${choice}-btn`).addEventListener("click", () => {
      if (!inSync() || !st.round) { $("result").textContent = "Not in sync yet: wait for the balance to update."; return; }
      st.pending = "guess";
      st.ws.send(JSON.stringify({type: "guess", round_id: st.round.round_id, choice}));
      render();
    });
  }

  window.addEventListener("offline", () => { log("browser offline"); render(); });
  window.addEventListener("online", () => {
    log("browser online");
    if (st.final) { if (st.balanceStale) reloadBalance(); return; }
    if (!st.ws || st.ws.readyState > WebSocket.OPEN) { clearTimeout(st.reconnectTimer); connect(); }
    else heartbeat();
  });

  // A reload resumes the stored session (and its open round) if it is still live.
  const saved = sessionStorage.getItem("play.session");
  if (st.token && saved) {
    $("login-form").classList.add("hidden");
    $("game").classList.remove("hidden");
    st.session = JSON.parse(saved);
    $("session-id").textContent = st.session.id;
    connect();
  }
  render();
})();
