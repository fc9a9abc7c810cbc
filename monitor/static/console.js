// Operator console: live queue over Server-Sent Events, actions over the JSON API.
"use strict";
const Vigil = (() => {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const KIND = { sos: "SOS", fall: "Fall", no_motion: "No motion", checkin_overdue: "Check-in overdue",
    device_offline: "Device offline", low_battery: "Low battery" };
  // On unless the operator turned it off: a silent console is how alarms get missed.
  let soundOn = localStorage.getItem("vigil.sound") !== "off";
  let audio = null;

  function since(iso) {
    const s = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
    return `${Math.floor(s / 3600)} h ${String(Math.floor(s % 3600 / 60)).padStart(2, "0")} min`;
  }
  function hhmmss(iso) { return new Date(iso).toISOString().slice(11, 19) + " UTC"; }
  function esc(t) { const d = document.createElement("div"); d.textContent = t ?? ""; return d.innerHTML; }

  function beep() {
    // An audible cue for every new alarm; browsers only allow sound after a click, hence the toggle.
    if (!soundOn) return;
    audio = audio || new AudioContext();
    if (audio.state !== "running") return;
    [0, 0.35].forEach((t) => {
      const o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = 880; o.connect(g); g.connect(audio.destination);
      g.gain.setValueAtTime(0.25, audio.currentTime + t);
      g.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + t + 0.3);
      o.start(audio.currentTime + t); o.stop(audio.currentTime + t + 0.3);
    });
  }

  function live(onAlarm, onConnect) {
    const badge = document.getElementById("live");
    const es = new EventSource("/v1/alarms/stream");
    es.addEventListener("hello", () => {
      badge.textContent = "live"; badge.classList.remove("off");
      if (onConnect) onConnect();
    });
    es.addEventListener("alarm", (e) => onAlarm(JSON.parse(e.data)));
    // The monitor ended the stream because this login is over (logout elsewhere, expiry,
    // account disabled): say so instead of reconnecting into a 401 for ever.
    es.addEventListener("end", () => {
      es.close();
      badge.textContent = "logged out: log in again"; badge.classList.add("off");
      window.location.assign("/login");
    });
    es.onerror = () => { badge.textContent = "reconnecting…"; badge.classList.add("off"); };
    return es;
  }

  async function api(method, url, body) {
    const r = await fetch(url, { method, headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body ? JSON.stringify(body) : undefined, credentials: "same-origin" });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.message || `HTTP ${r.status}`);
    return data;
  }

  function card(a, fresh) {
    const el = document.createElement("a");
    el.href = `/alarms/${a.id}`;
    el.className = `alarm ${a.status} p${a.priority}` + (fresh ? " fresh" : "");
    el.dataset.id = a.id;
    el.dataset.raised = a.raised_at;
    const who = a.worker ? `<b>${esc(a.worker.name)}</b><span class="muted">${esc(a.worker.team || "")} · ${esc(a.worker.phone || "no phone")}</span>`
                         : `<b>Device ${a.device_id}</b><span class="muted">not allocated</span>`;
    const loc = a.location ? `at ${a.location.lat.toFixed(4)}, ${a.location.lon.toFixed(4)} ± ${Math.round(a.location.accuracy_m || 0)} m` : "no location";
    const delay = Math.round((Date.parse(a.received_at) - Date.parse(a.raised_at)) / 1000);
    el.innerHTML = `
      <div><span class="kind k-${a.kind}">${KIND[a.kind] || a.kind}</span></div>
      <div class="who-col">${who}<div class="times">${loc}${a.cancelled_at ? ' · <span class="cancelled">cancelled at fob</span>' : ""}</div></div>
      <div><div class="since" data-since="${a.raised_at}">${since(a.raised_at)}</div>
        <div class="times">raised ${a.age_lower_bound ? "≥ " : ""}${hhmmss(a.raised_at)} · received ${hhmmss(a.received_at)}${delay > 0 ? ` (+${delay} s)` : ""}</div></div>
      <div><span class="status s-${a.status}">${a.status}</span>
        ${a.battery_pct != null ? `<div class="times">battery ${a.battery_pct} %</div>` : ""}</div>`;
    return el;
  }

  function queue() {
    const box = document.getElementById("queue");
    const alarms = new Map(JSON.parse(box.dataset.initial).map((a) => [a.id, a]));
    const fresh = new Set();
    function render() {
      const list = [...alarms.values()].filter((a) => a.status !== "resolved").sort((a, b) =>
        (a.status === "open" ? 0 : 1) - (b.status === "open" ? 0 : 1) || a.priority - b.priority ||
        Date.parse(b.raised_at) - Date.parse(a.raised_at));
      box.querySelectorAll(".alarm").forEach((n) => n.remove());
      list.forEach((a) => box.appendChild(card(a, fresh.has(a.id))));
      document.getElementById("empty").hidden = list.length > 0;
      const open = list.filter((a) => a.status === "open").length;
      document.getElementById("counts").textContent = `${open} open · ${list.length - open} acknowledged`;
      document.getElementById("nav-count").textContent = open || "";
      document.title = (open ? `(${open}) ` : "") + "Alarm queue · Vigil monitor";
    }
    function arrived(a) {
      const isNew = !alarms.has(a.id);
      alarms.set(a.id, a);
      if (isNew && a.status === "open") { fresh.add(a.id); beep(); setTimeout(() => fresh.delete(a.id), 3000); }
    }
    // Events sent while the stream was down are gone: after every (re)connect, reload the
    // active list so an alarm raised during a network blip still shows.
    async function resync() {
      try {
        const r = await fetch("/v1/alarms?status=active", { credentials: "same-origin" });
        if (!r.ok) { if (r.status === 401) location.href = "/login"; return; }
        const active = await r.json();
        const ids = new Set(active.map((a) => a.id));
        for (const id of [...alarms.keys()]) if (!ids.has(id)) alarms.delete(id);
        active.forEach(arrived);
        render();
      } catch (e) { /* the stream's own reconnect retries */ }
    }
    live((a) => { arrived(a); render(); }, resync);
    const btn = document.getElementById("sound");
    // Browsers keep audio suspended until the page is clicked: say so instead of staying silent.
    const label = () => {
      const blocked = soundOn && (!audio || audio.state !== "running");
      btn.textContent = !soundOn ? "Sound: off" : blocked ? "Sound: click to enable" : "Sound: on";
      btn.classList.toggle("on", soundOn && !blocked);
      btn.classList.toggle("warn-btn", blocked);
    };
    document.addEventListener("click", () => {
      if (soundOn) { audio = audio || new AudioContext(); audio.resume().then(label); }
    }, { once: false });
    btn.onclick = (ev) => {
      ev.stopPropagation();
      const blocked = soundOn && (!audio || audio.state !== "running");
      if (!blocked) soundOn = !soundOn;
      localStorage.setItem("vigil.sound", soundOn ? "on" : "off");
      if (soundOn) { audio = audio || new AudioContext(); audio.resume().then(() => { label(); beep(); }); }
      label();
    };
    label();
    setInterval(() => document.querySelectorAll("[data-since]").forEach((n) => { n.textContent = since(n.dataset.since); }), 1000);
    render();
  }

  function alarm(id) {
    const err = document.getElementById("action-error");
    const fail = (e) => { err.textContent = e.message; err.hidden = false; };
    document.getElementById("ack")?.addEventListener("click", () =>
      api("POST", `/v1/alarms/${id}/acknowledge`).then(() => location.reload(), fail));
    document.getElementById("resolve")?.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      api("POST", `/v1/alarms/${id}/resolve`, { outcome: f.get("outcome"), notes: f.get("notes") || null })
        .then(() => location.reload(), fail);
    });
    document.getElementById("incident")?.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      api("POST", `/v1/alarms/${id}/incident`, { type: f.get("type"), summary: f.get("summary") || null })
        .then(() => { location.href = "/reports"; }, fail);
    });
    // Another operator may act on this alarm: reload when it changes elsewhere.
    live((a) => { if (a.id === id && a.status !== document.getElementById("status").textContent.trim()) location.reload(); });
  }

  function generic() { if (document.getElementById("live")) live(() => {}); }

  function devices() {
    const form = document.getElementById("provision");
    if (!form) return;
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = new FormData(form);
      const body = { board: f.get("board") };
      if (f.get("worker_id")) body.worker_id = Number(f.get("worker_id"));
      api("POST", "/v1/devices", body).then((r) => {
        document.getElementById("new-id").textContent = r.device.id;
        document.getElementById("new-key-hex").textContent = r.key;
        document.getElementById("new-key").hidden = false;
      }, (e) => { const p = document.getElementById("action-error"); p.textContent = e.message; p.hidden = false; });
    });
  }
  return { queue, alarm, generic, devices };
})();
