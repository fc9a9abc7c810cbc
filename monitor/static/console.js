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
  // A time from an earlier day carries its date: "01:46:40 UTC" alone would pass for today.
  function when(iso) {
    const d = new Date(iso);
    if (!Number.isFinite(d.getTime())) return "unknown time";
    const full = d.toISOString();
    const today = new Date().toISOString().slice(0, 10);
    const clock = full.slice(11, 19) + " UTC";
    if (full.slice(0, 10) === today) return clock;
    const date = d.toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
    return `${date} ${clock}`;
  }
  const finite = (x) => typeof x === "number" && Number.isFinite(x);
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
    es.addEventListener("alarm", (e) => {
      // One event that will not parse or render is reported, never the end of the stream.
      try { onAlarm(JSON.parse(e.data)); } catch (err) { console.error("alarm event", err, e.data); }
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
    const words = SOURCE[a.location_source] || `gateway ${a.gateway_id ?? "?"}`;
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
        ` <span class="muted">reported by gateway ${esc(String(a.gateway_id ?? "?"))}</span>`
      : "no location";
    const visit = a.visit && a.visit.where
      ? ` · <span class="visit">visit: ${esc(a.visit.where)}${a.visit.with ? ` with ${esc(a.visit.with)}` : ""}</span>` : "";
    const delay = Math.round((Date.parse(a.received_at) - Date.parse(a.raised_at)) / 1000);
    const received = a.received_at_clamped
      ? `received ${when(a.stored_at)} <span class="warn">(gateway's time not believed: monitor's clock)</span>`
      : `received ${when(a.received_at)}${Number.isFinite(delay) && delay > 0 ? ` (+${delay} s)` : ""}`;
    el.innerHTML = `
      <div><span class="kind k-${a.kind}">${KIND[a.kind] || a.kind}</span></div>
      <div class="who-col">${who}<div class="times">${loc}${visit}${a.cancelled_at ? ' · <span class="cancelled">cancelled at fob</span>' : ""}</div></div>
      <div><div class="since" data-since="${a.raised_at}">${since(a.raised_at)}</div>
        <div class="times">raised ${a.age_lower_bound ? "≥ " : ""}${when(a.raised_at)} · ${received}</div></div>
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
    forms();
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

  function generic() { if (document.getElementById("live")) live(() => {}); forms(); }

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
    if (t === "bool") return el.checked;
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
    for (const el of form.elements) {
      if (!el.name || el.disabled || el.dataset.skip !== undefined) continue;
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
    return body;
  }
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
    document.querySelectorAll("button[data-revoke]").forEach((b) => b.addEventListener("click", () => {
      if (!confirm(`Revoke ${b.dataset.name}? Its token and its own device key stop working at once.`)) return;
      api("POST", `/v1/gateways/${b.dataset.revoke}/revoke`).then(() => location.reload(), showError);
    }));
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
  return { queue, alarm, generic, devices, workers, forms, api, esc, when, since };
})();
