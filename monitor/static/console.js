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
    const t = Date.parse(iso);
    if (!Number.isFinite(t)) return "unknown";
    const s = Math.max(0, Math.floor((Date.now() - t) / 1000));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
    if (s < 172800) return `${Math.floor(s / 3600)} h ${String(Math.floor(s % 3600 / 60)).padStart(2, "0")} min`;
    return `${Math.floor(s / 86400)} d ${Math.floor(s % 86400 / 3600)} h`;
  }
  // Times are shown in the operator's own time zone (the browser's), with the zone's name, and
  // UTC on hover: a control room's logs, the ARC and the police speak UTC, the operator local.
  // A time from an earlier day carries its date: "01:46:40 GMT" alone would pass for today.
  const TIME = { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZoneName: "short" };
  const dayKey = (d) => d.toLocaleDateString("en-CA");  // YYYY-MM-DD in the local zone
  function when(iso) {
    const d = new Date(iso);
    if (!Number.isFinite(d.getTime())) return "unknown time";
    const clock = new Intl.DateTimeFormat("en-GB", TIME).format(d);
    if (dayKey(d) === dayKey(new Date())) return clock;
    const date = d.toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" });
    return `${date} ${clock}`;
  }
  function utc(iso) {
    const d = new Date(iso);
    if (!Number.isFinite(d.getTime())) return "";
    return d.toLocaleString("en-GB", { day: "2-digit", month: "short", year: "numeric", hour: "2-digit",
      minute: "2-digit", second: "2-digit", hour12: false, timeZone: "UTC" }).replace(",", "") + " UTC";
  }
  // `<time>` markup for a card: local text, UTC in the title.
  const stamp = (iso) => `<time datetime="${esc(iso)}" title="${esc(utc(iso))}">${esc(when(iso))}</time>`;
  // The server writes every time as `<time class="clock" datetime=… title="… UTC">… UTC</time>`
  // (console/common.py `clock`), so the page is right without scripts; here the text becomes the
  // browser's zone and the title keeps UTC.
  function localTimes(root) {
    const fmt = new Intl.DateTimeFormat("en-GB", { day: "2-digit", month: "short", ...TIME });
    (root || document).querySelectorAll("time.clock[datetime]").forEach((t) => {
      const d = new Date(t.getAttribute("datetime"));
      if (!Number.isFinite(d.getTime())) return;
      t.textContent = fmt.format(d).replace(",", "");
      t.dataset.local = "1";
    });
  }

  // The alarm page's map: Leaflet, served by the monitor from /static/vendor (make setup copies
  // it from npm). Tiles come from the configured template (VIGIL_MAP_TILE_URL). The text beside
  // it already gives the coordinates, accuracy, source and age, so every failure here only says
  // what is missing and leaves that text alone.
  // How long to wait for a first tile before saying tiles are unavailable: a tile server that
  // drops packets never sends an error, and an operator must not wait on a grey box.
  const TILE_WAIT_MS = 8000;
  function map() {
    const box = document.getElementById("map");
    const note = document.getElementById("map-note");
    if (!box) return;
    const say = (text) => { note.textContent = text; note.hidden = false; box.dataset.state = "failed"; };
    if (!window.L) {
      box.hidden = true;
      say("Map unavailable: this monitor does not serve the map library (run make setup). The coordinates above are the position.");
      return;
    }
    const lat = Number(box.dataset.lat), lon = Number(box.dataset.lon);
    const acc = box.dataset.accuracy === "" ? NaN : Number(box.dataset.accuracy);
    if (!finite(lat) || !finite(lon)) { box.hidden = true; say("No map: the position is not a valid coordinate."); return; }
    const m = L.map(box, { keyboard: true }).setView([lat, lon], 16);
    let loaded = 0;
    const layer = L.tileLayer(box.dataset.tiles, { maxZoom: 19, attribution: esc(box.dataset.attribution) });
    const unavailable = () => {
      if (loaded) return;
      say("Map tiles unavailable: the tile server could not be reached. The coordinates above are the position.");
    };
    layer.on("tileload", () => { loaded += 1; box.dataset.state = "tiles"; note.hidden = true; });
    layer.on("tileerror", unavailable);
    setTimeout(unavailable, TILE_WAIT_MS);
    layer.addTo(m);
    if (finite(acc) && acc > 0) {
      const circle = L.circle([lat, lon], { radius: acc, color: "#d92d20", weight: 2, fillOpacity: 0.12 }).addTo(m);
      m.fitBounds(circle.getBounds(), { maxZoom: 17 });
    }
    L.circleMarker([lat, lon], { radius: 6, color: "#fff", weight: 2, fillColor: "#d92d20", fillOpacity: 1 }).addTo(m);
    box.dataset.state = box.dataset.state || "drawn";
  }
  const finite = (x) => typeof x === "number" && Number.isFinite(x);
  function esc(t) { const d = document.createElement("div"); d.textContent = t ?? ""; return d.innerHTML; }

  // How often the alarm sound repeats while any alarm is still unacknowledged: often enough that
  // an operator back from the kettle hears it at once, not so often it drowns a phone call.
  const REPEAT_MS = 5000;
  // How fast the tab title flashes while an alarm is open and the sound cannot play.
  const FLASH_MS = 1000;

  // Browsers' autoplay rule: a Web Audio context starts "suspended" and only a user activation
  // (click, key press) on *this* page load may resume it; a new page load starts suspended again.
  // So the console never assumes sound works: while an alarm is unacknowledged and the context is
  // suspended it shows the "Click to turn the alarm sound on" banner, and keeps flashing the title
  // and sending desktop notifications, which need no activation. See docs/monitor.md.
  function audioContext() {
    if (!audio && window.AudioContext) audio = new AudioContext();
    return audio;
  }
  function beep() {
    if (!soundOn) return false;
    const ctx = audioContext();
    if (!ctx || ctx.state !== "running") return false;
    [0, 0.35].forEach((t) => {
      const o = ctx.createOscillator(), g = ctx.createGain();
      o.frequency.value = 880; o.connect(g); g.connect(ctx.destination);
      g.gain.setValueAtTime(0.25, ctx.currentTime + t);
      g.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + t + 0.3);
      o.start(ctx.currentTime + t); o.stop(ctx.currentTime + t + 0.3);
    });
    // Counted on the page so a browser test can tell the sound was played, not just scheduled.
    document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
    return true;
  }

  // The open (unacknowledged) alarms, known on every console page: loaded from the API on each
  // (re)connect of the stream, then followed from it. Drives the sound, the title, the nav pill,
  // the app badge and desktop notifications.
  const alerts = (() => {
    const open = new Map();
    const seen = new Set();
    let loaded = false, flashOn = false, timer = null, flasher = null;
    const baseTitle = document.title;
    const blocked = () => soundOn && (!audio || audio.state !== "running");

    function show() {
      const n = open.size;
      const pill = document.getElementById("nav-count");
      if (pill) { pill.textContent = n || ""; pill.setAttribute("aria-label", n ? `${n} open` : ""); }
      const prefix = n ? `(${n}) ` : "";
      document.title = prefix + (n && flashOn ? "ALARM · Vigil monitor" : baseTitle);
      if (navigator.setAppBadge) (n ? navigator.setAppBadge(n) : navigator.clearAppBadge()).catch(() => {});
      const banner = document.getElementById("sound-banner");
      if (banner) banner.hidden = !(n && blocked());
      const notify = document.getElementById("notify");
      if (notify) notify.hidden = !window.Notification || Notification.permission !== "default";
      document.dispatchEvent(new CustomEvent("vigil:sound"));
    }
    function tick() {
      if (!open.size) return;
      beep();
      show();
    }
    function schedule() {
      if (open.size && !timer) timer = setInterval(tick, REPEAT_MS);
      if (!open.size && timer) { clearInterval(timer); timer = null; }
      // Flash only while the sound cannot carry the news.
      const flash = open.size > 0 && blocked();
      if (flash && !flasher) flasher = setInterval(() => { flashOn = !flashOn; show(); }, FLASH_MS);
      if (!flash && flasher) { clearInterval(flasher); flasher = null; flashOn = false; }
      show();
    }
    function notify(a) {
      if (!window.Notification || Notification.permission !== "granted") return;
      const who = a.worker ? a.worker.name : `device ${a.device_id ?? "unknown"}`;
      try {
        const n = new Notification(`${KIND[a.kind] || a.kind}: ${who}`, {
          body: a.worker && a.worker.team ? a.worker.team : "Open the alarm", tag: `vigil-alarm-${a.id}`,
          requireInteraction: true });
        n.onclick = () => { window.focus(); location.assign(`/alarms/${a.id}`); n.close(); };
      } catch (e) { console.error("notification", e); }
    }
    function update(a) {
      if (!a || a.id == null) return;
      if (a.status === "open") {
        const isNew = !seen.has(a.id);
        open.set(a.id, a);
        // Alarms already open when the page loaded were announced by the page before this one.
        if (isNew && loaded) { notify(a); beep(); }
      } else open.delete(a.id);
      seen.add(a.id);
      schedule();
    }
    async function sync() {
      try {
        const r = await fetch("/v1/alarms?status=open", { credentials: "same-origin" });
        if (!r.ok) return;
        const list = await r.json();
        const ids = new Set(list.map((a) => a.id));
        for (const id of [...open.keys()]) if (!ids.has(id)) open.delete(id);
        list.forEach(update);
        if (!loaded) { loaded = true; if (open.size) beep(); }
        schedule();
      } catch (e) { /* the stream's reconnect calls sync again */ }
    }
    // Unlocks the sound and beeps at once if an alarm is waiting; `again` (the sound button turned
    // back on) beeps even though the sound was already unlocked. Every other click or key press
    // once unlocked does nothing: typing a note must not beep on each key, the repeat does that.
    // resume() is asked every time (one asked without an activation waits until one is), but
    // only the first caller waiting beeps.
    let resuming = null;
    function enable(again) {
      if (!soundOn) return;
      const ctx = audioContext();
      if (!ctx || (ctx.state === "running" && again !== true)) return;
      const started = ctx.resume();
      if (resuming) return;
      resuming = started.then(() => { if (open.size) beep(); schedule(); }, () => {})
        .finally(() => { resuming = null; });
    }
    function start() {
      // Any click or key press is a user activation: use the first one to unlock the sound
      // (the banner's button is one of them).
      document.addEventListener("click", enable, true);
      document.addEventListener("keydown", enable, true);
      document.getElementById("notify")?.addEventListener("click", () => {
        Notification.requestPermission().then(show);
      });
      audioContext();
      sync();
    }
    return { start, update, sync, enable, count: () => open.size, blocked, show };
  })();

  function live(onAlarm, onConnect) {
    const badge = document.getElementById("live");
    alerts.start();
    const es = new EventSource("/v1/alarms/stream");
    es.addEventListener("hello", () => {
      badge.textContent = "live"; badge.classList.remove("off");
      alerts.sync();
      if (onConnect) onConnect();
    });
    es.addEventListener("alarm", (e) => {
      // One event that will not parse or render is reported, never the end of the stream.
      let a;
      try { a = JSON.parse(e.data); } catch (err) { console.error("alarm event", err, e.data); return; }
      alerts.update(a);
      try { onAlarm(a); } catch (err) { console.error("alarm event", err, e.data); }
    });
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

  // "phone GPS ±12 m, 8 s old" / "gateway site ±50 m" (console.py position_words says the same).
  const SOURCE = { phone_gps: "phone GPS", gateway_site: "gateway site" };
  function where(a) {
    const l = a.location;
    // An older gateway does not say where its position came from; the card already names it.
    const words = SOURCE[a.location_source] || "source not given";
    let out = `${words} ±${finite(l.accuracy_m) ? Math.round(l.accuracy_m) : " ?"} m`;
    const age = a.location_fix_age_s;
    if (finite(age) && age >= 0) out += `, ${since(new Date(Date.now() - age * 1000).toISOString())} old`;
    return out;
  }

  function card(a, fresh) {
    const el = document.createElement("a");
    el.href = `/alarms/${a.id}`;
    el.className = `alarm ${a.status} p${a.priority}` + (fresh ? " fresh" : "");
    el.dataset.id = a.id;
    el.dataset.raised = a.raised_at;
    const who = a.worker ? `<b>${esc(a.worker.name)}</b><span class="muted">${esc(a.worker.team || "")} · ${esc(a.worker.phone || "no phone")}</span>`
                         : `<b>Device ${esc(String(a.device_id ?? "unknown"))}</b><span class="muted">not allocated</span>`;
    const l = a.location;
    // The position is the relaying gateway's word (the fob signs no position): say so, and
    // where it came from and how old it was.
    const loc = l && finite(l.lat) && finite(l.lon)
      ? `at ${l.lat.toFixed(4)}, ${l.lon.toFixed(4)} · ${esc(where(a))}` +
        ` <span class="muted">· reported by gateway ${esc(String(a.gateway_id ?? "?"))}</span>`
      : "no location";
    const visit = a.visit && a.visit.where
      ? ` · <span class="visit">visit: ${esc(a.visit.where)}${a.visit.with ? ` with ${esc(a.visit.with)}` : ""}</span>` : "";
    const delay = Math.round((Date.parse(a.received_at) - Date.parse(a.raised_at)) / 1000);
    const received = a.received_at_clamped
      ? `received ${stamp(a.stored_at)} <span class="warn">(gateway's time not believed: monitor's clock)</span>`
      : `received ${stamp(a.received_at)}${Number.isFinite(delay) && delay > 0 ? ` (+${delay} s)` : ""}`;
    el.innerHTML = `
      <div><span class="kind k-${a.kind}">${KIND[a.kind] || a.kind}</span></div>
      <div class="who-col">${who}<div class="times">${loc}${visit}${a.cancelled_at ? ' · <span class="cancelled">cancelled at fob</span>' : ""}</div></div>
      <div><div class="since" data-since="${a.raised_at}">${since(a.raised_at)}</div>
        <div class="times">raised ${a.age_lower_bound ? "≥ " : ""}${stamp(a.raised_at)} · ${received}</div></div>
      <div><span class="status s-${a.status}">${a.status}</span>
        ${finite(a.battery_pct) ? `<div class="times">battery ${a.battery_pct >= 0 && a.battery_pct <= 100 ? a.battery_pct : "?"} %</div>` : ""}</div>`;
    return el;
  }

  // What is left when an alarm's data cannot be drawn: that it exists, who, and a way in.
  function bareCard(a) {
    const el = document.createElement("a");
    el.href = `/alarms/${encodeURIComponent(a && a.id)}`;
    el.className = "alarm open p0";
    el.dataset.id = a && a.id;
    el.innerHTML = `<div><span class="kind">${esc(KIND[a && a.kind] || String(a && a.kind))}</span></div>
      <div class="who-col"><b>Alarm #${esc(String(a && a.id))}</b>
        <span class="warn">some details could not be shown: open the alarm</span></div>`;
    return el;
  }

  function queue() {
    forms();
    localTimes();
    const box = document.getElementById("queue");
    const alarms = new Map();
    const fresh = new Set();
    const byTime = (iso) => { const t = Date.parse(iso); return Number.isFinite(t) ? t : 0; };
    function render() {
      const list = [...alarms.values()].filter((a) => a.status !== "resolved").sort((a, b) =>
        (a.status === "open" ? 0 : 1) - (b.status === "open" ? 0 : 1) || (a.priority - b.priority) || 0 ||
        byTime(b.raised_at) - byTime(a.raised_at));
      box.querySelectorAll(".alarm").forEach((n) => n.remove());
      list.forEach((a) => {
        let el;
        try { el = card(a, fresh.has(a.id)); } catch (err) { console.error("alarm card", err, a); el = bareCard(a); }
        box.appendChild(el);
      });
      document.getElementById("empty").hidden = list.length > 0;
      const open = list.filter((a) => a.status === "open").length;
      document.getElementById("counts").textContent = `${open} open · ${list.length - open} acknowledged`;
    }
    function arrived(a) {
      const isNew = !alarms.has(a.id);
      alarms.set(a.id, a);
      if (isNew && a.status === "open") { fresh.add(a.id); setTimeout(() => fresh.delete(a.id), 3000); }
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
    // The live stream first, on its own: nothing in the page's initial data can stop it.
    live((a) => { arrived(a); render(); }, resync);
    try {
      JSON.parse(box.dataset.initial).forEach((a) => { if (a && a.id != null) alarms.set(a.id, a); });
    } catch (err) {
      // The stream's hello triggers resync, which loads the active list from the API anyway.
      console.error("initial alarms", err);
    }
    const btn = document.getElementById("sound");
    // Browsers keep audio suspended until the page is clicked: say so instead of staying silent.
    const label = () => {
      const blocked = alerts.blocked();
      btn.textContent = !soundOn ? "Sound: off" : blocked ? "Sound: click to enable" : "Sound: on";
      btn.classList.toggle("on", soundOn && !blocked);
      btn.classList.toggle("warn-btn", blocked);
    };
    document.addEventListener("vigil:sound", label);
    btn.onclick = (ev) => {
      ev.stopPropagation();
      if (!alerts.blocked()) soundOn = !soundOn;
      localStorage.setItem("vigil.sound", soundOn ? "on" : "off");
      if (soundOn) alerts.enable(true);
      alerts.show();
    };
    label();
    setInterval(() => document.querySelectorAll("[data-since]").forEach((n) => { n.textContent = since(n.dataset.since); }), 1000);
    render();
  }

  function alarm(id) {
    forms();
    localTimes();
    try { map(); } catch (e) { console.error("map", e); }
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
    // Another operator may act on this alarm: reload when it changes elsewhere.
    live((a) => { if (a.id === id && a.status !== document.getElementById("status").textContent.trim()) location.reload(); });
  }

  function generic() { localTimes(); if (document.getElementById("live")) live(() => {}); forms(); }

  // Every console form that changes something calls the JSON API, so the console can do nothing
  // the API (and its authorisation matrix) does not allow:
  //   <form data-api="/v1/workers/3" data-method="PUT" data-then="reload|show|go:/path"
  //         data-confirm="Revoke it?">
  // A field's data-type says what JSON it becomes: int, float, bool (a checkbox), lines (one
  // item a line), json, datetime (a datetime-local field, sent as UTC). A name ending in [] collects every checked/filled field into a list.
  // An empty field is null. With data-then="show" the answer fills [data-field=key] inside the
  // form's [data-result] (for what is shown once: a new token). Errors go to its [role=alert].
  function fieldValue(el) {
    const t = el.dataset.type;
    // A checkbox is on or off; a select of "", "true", "false" can also mean "leave unchanged".
    if (t === "bool") return el.type === "checkbox" ? el.checked : (el.value === "" ? null : el.value === "true");
    const v = el.value;
    if (v === "" && t !== "text") return null;
    if (t === "int") return Number.parseInt(v, 10);
    if (t === "float") return Number.parseFloat(v);
    if (t === "lines") return v.split("\n").map((x) => x.trim()).filter(Boolean);
    if (t === "json") return JSON.parse(v);
    // A datetime-local field holds the person's own wall-clock time: sent as UTC with its offset.
    if (t === "datetime") {
      const d = new Date(v);
      if (!Number.isFinite(d.getTime())) throw new Error(`${el.name}: not a date and time`);
      return d.toISOString();
    }
    return v;
  }
  function formBody(form) {
    const body = {};
    const items = new Map();  // a [data-row] group of fields is one object in a list
    for (const el of form.elements) {
      if (!el.name || el.disabled || el.dataset.skip !== undefined) continue;
      const row = el.closest("[data-row]");
      if (row && form.contains(row)) {
        let item = items.get(row);
        if (!item) { item = {}; items.set(row, item); (body[row.dataset.row] ||= []).push(item); }
        const v = fieldValue(el);
        if (v !== null) item[el.name] = v;
        continue;
      }
      if (el.name.endsWith("[]")) {
        const key = el.name.slice(0, -2);
        body[key] = body[key] || [];
        if ((el.type === "checkbox" || el.type === "radio") ? el.checked : el.value !== "") {
          body[key].push(el.dataset.type === "int" ? Number.parseInt(el.value, 10) : el.value);
        }
        continue;
      }
      if (el.type === "radio" && !el.checked) continue;
      body[el.name] = fieldValue(el);
    }
    // data-send="contacts": the request body is that one list (PUT of a whole ladder).
    return form.dataset.send ? (body[form.dataset.send] || []) : body;
  }
  // Editable lists: a button data-add-row="template-id" appends a copy of the template to
  // data-into="#selector"; a button data-remove-row removes the row it sits in.
  document.addEventListener("click", (ev) => {
    const add = ev.target.closest("[data-add-row]");
    if (add) {
      const tpl = document.getElementById(add.dataset.addRow);
      document.querySelector(add.dataset.into).append(tpl.content.cloneNode(true));
    }
    const remove = ev.target.closest("[data-remove-row]");
    if (remove) remove.closest("[data-row]").remove();
    // The order of the rows is the order of the ladder: "Earlier" moves a contact up one.
    const up = ev.target.closest("[data-move-up]");
    if (up) {
      const row = up.closest("[data-row]");
      const before = row.previousElementSibling;
      if (before) { before.before(row); up.focus(); }
    }
  });
  function forms(root) {
    (root || document).querySelectorAll("form[data-api]").forEach((form) => form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const alertBox = form.querySelector("[role=alert]");
      if (alertBox) { alertBox.hidden = true; alertBox.textContent = ""; }
      if (form.dataset.confirm && !confirm(form.dataset.confirm)) return;
      let body;
      try { body = formBody(form); } catch (e) { fail(e); return; }
      const method = form.dataset.method || "POST";
      const then = form.dataset.then || "reload";
      const button = form.querySelector("[type=submit]");
      if (button) button.disabled = true;
      api(method, form.dataset.api, method === "GET" ? undefined : body).then((r) => {
        if (button) button.disabled = false;
        if (then === "show") {
          const box = form.querySelector("[data-result]");
          box.querySelectorAll("[data-field]").forEach((n) => { n.textContent = r[n.dataset.field] ?? ""; });
          box.hidden = false;
        } else if (then.startsWith("go:")) {
          location.assign(then.slice(3).replace("{id}", r.id));
        } else location.reload();
      }, (e) => { if (button) button.disabled = false; fail(e); });
      function fail(e) { if (alertBox) { alertBox.textContent = e.message; alertBox.hidden = false; } else alert(e.message); }
    }));
  }

  function showError(e) { const p = document.getElementById("action-error"); if (p) { p.textContent = e.message; p.hidden = false; } else alert(e.message); }

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
  function workers() {
    document.querySelectorAll("button[data-enrol]").forEach((b) => b.addEventListener("click", () => {
      const box = document.querySelector(`.enrolment[data-for="${b.dataset.enrol}"]`);
      api("POST", "/v1/phones/enrolments", { worker_id: Number(b.dataset.enrol) }).then((r) => {
        box.querySelector(".code").textContent = r.code;
        box.querySelector(".expires").textContent = when(r.expires_at);
        box.querySelector(".qr").innerHTML = r.qr_svg;  // drawn by the monitor (segno), not user text
        const a = box.querySelector(".url");
        a.href = r.url; a.textContent = new URL(r.url, location.href).href;
        box.hidden = false;
      }, showError);
    }));
  }
  return { queue, alarm, generic, devices, workers, forms, api, esc, when, since, localTimes };
})();
