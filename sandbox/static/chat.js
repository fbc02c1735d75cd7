// The demo chat page: renders the Bot API emulator's chats and acts as their users.
// Text is always put into the page as DOM text nodes (never parsed as HTML), so whatever the
// bot or a user wrote cannot inject markup.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  people: [],
  current: 1001,
  version: 0,          // journal position of the open chat
  nodes: new Map(),    // message_id -> {seq, el}
  poll: null,          // AbortController of the open chat's long poll
  watchers: new Map(), // user id -> AbortController (unread dots for the other chats)
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const res = await fetch(path, init);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || res.statusText);
  return data;
}

// --- Telegram entities → DOM -------------------------------------------------------
// Offsets are UTF-16 code units, which is exactly how JS strings index.

const SAFE_URL = /^(https?:|tg:|mailto:)/i;

function entityNode(e, text) {
  switch (e.type) {
    case "bold": return el("b");
    case "italic": return el("i");
    case "underline": return el("u");
    case "strikethrough": return el("s");
    case "code": return el("code");
    case "pre": return el("pre");
    case "blockquote": case "expandable_blockquote": return el("blockquote");
    case "spoiler": {
      const s = el("span", { class: "spoiler" });
      s.addEventListener("click", () => s.classList.add("shown"));
      return s;
    }
    case "text_link": case "url": {
      const href = e.type === "url" ? text : e.url;
      if (!SAFE_URL.test(href || "")) return el("span");
      return el("a", { href, target: "_blank", rel: "noopener noreferrer" });
    }
    case "bot_command": {
      const c = el("span", { class: "cmd", title: "보내기 / send" });
      c.addEventListener("click", () => sendText(text));
      return c;
    }
    default: return el("span");
  }
}

function renderEntities(parent, text, entities, start, end) {
  let pos = start;
  let i = 0;
  while (i < entities.length) {
    const e = entities[i];
    const eEnd = e.offset + e.length;
    if (e.offset > pos) parent.append(text.slice(pos, e.offset));
    // entities nested inside e follow it in the sorted list
    let j = i + 1;
    while (j < entities.length && entities[j].offset < eEnd) j++;
    const node = entityNode(e, text.slice(e.offset, eEnd));
    renderEntities(node, text, entities.slice(i + 1, j), e.offset, eEnd);
    parent.append(node);
    pos = Math.max(pos, eEnd);
    i = j;
  }
  if (pos < end) parent.append(text.slice(pos, end));
}

function richText(text, entities) {
  const sorted = [...(entities || [])].sort((a, b) => a.offset - b.offset || b.length - a.length);
  const frag = document.createDocumentFragment();
  renderEntities(frag, text, sorted, 0, text.length);
  return frag;
}

// --- messages ------------------------------------------------------------------------

function timeOf(m) {
  const d = new Date(m.date * 1000);
  return d.toLocaleTimeString("ko-KR", { hour: "2-digit", minute: "2-digit", timeZone: "Asia/Seoul" });
}

function inlineKeyboard(m) {
  const kb = el("div", { class: "inline-kb" });
  for (const row of m.buttons) {
    const r = el("div", { class: "row" });
    for (const b of row) {
      if (b.url) {
        const safe = SAFE_URL.test(b.url) ? b.url : "#";
        r.append(el("a", { href: safe, target: "_blank", rel: "noopener noreferrer" }, b.text));
      } else {
        const btn = el("button", { type: "button" }, b.text);
        btn.addEventListener("click", () => press(m.message_id, b.callback_data, btn));
        r.append(btn);
      }
    }
    kb.append(r);
  }
  return kb;
}

function invoiceCard(m) {
  const inv = m.invoice || {};
  const stars = inv.currency === "XTR" ? `⭐ ${inv.total_amount}` : `${inv.total_amount} ${inv.currency}`;
  const btn = el("button", { type: "button", class: "pay" }, `결제하기 · Pay ${stars}`);
  btn.addEventListener("click", () => pay(m.message_id, btn));
  return el("div", { class: "invoice" },
    el("h3", {}, inv.title || ""), el("p", {}, inv.description || ""),
    el("div", { class: "amount" }, stars), btn);
}

function messageNode(m) {
  if (m.kind === "successful_payment") {
    return el("div", { class: "msg service" }, el("div", { class: "bubble" }, `✅ ${m.text}`));
  }
  const box = el("div", { class: `msg ${m.from_bot ? "bot" : "me"}` });
  if (m.kind === "invoice") {
    box.append(invoiceCard(m));
  } else {
    const bubble = el("div", { class: "bubble" });
    if (m.kind === "sticker") bubble.append("🖼 sticker");
    else if (m.kind === "photo") bubble.append("🖼 ", richText(m.text, m.entities));
    else bubble.append(richText(m.text, m.entities));
    bubble.append(el("span", { class: "meta" }, (m.edited ? "수정됨 · " : "") + timeOf(m)));
    box.append(bubble);
  }
  if (m.buttons && m.buttons.length) box.append(inlineKeyboard(m));
  return box;
}

function renderMessages(messages) {
  const list = $("messages");
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const seen = new Set();
  let added = false;
  for (const m of messages) {
    seen.add(m.message_id);
    const known = state.nodes.get(m.message_id);
    if (known && known.seq === m.last_seq) continue;
    const node = messageNode(m);
    if (known) {  // an edit: replace in place
      known.el.replaceWith(node);
      node.classList.add("flash");
    } else {
      list.append(node);
      added = true;
    }
    state.nodes.set(m.message_id, { seq: m.last_seq, el: node });
  }
  for (const [id, known] of state.nodes) {  // deleted by the bot
    if (!seen.has(id)) { known.el.remove(); state.nodes.delete(id); }
  }
  const empty = list.querySelector(".empty");
  if (state.nodes.size === 0 && !empty) {
    list.append(el("div", { class: "empty" },
      "아래에 /start 를 보내 보세요.\nSend /start below to begin."));
  } else if (state.nodes.size > 0 && empty) {
    empty.remove();
  }
  if (added || nearBottom) list.scrollTop = list.scrollHeight;
}

function renderKeyboard(rows, placeholder) {
  const kb = $("keyboard");
  kb.replaceChildren();
  kb.hidden = !rows.length;
  for (const row of rows) {
    const r = el("div", { class: "row" });
    for (const label of row) {
      r.append(el("button", { type: "button", onclick: () => sendText(label) }, label));
    }
    kb.append(r);
  }
  $("input").placeholder = placeholder || "메시지 입력 · Message";
}

function toast(text, kind) {
  const t = el("div", { class: `toast ${kind || ""}` }, text);
  $("toasts").append(t);
  setTimeout(() => t.remove(), kind === "alert" ? 5000 : 2600);
}

function applyState(data) {
  state.version = data.version;
  // keyboard first: it changes the height of the message list we scroll to the bottom of
  renderKeyboard(data.keyboard || [], data.placeholder);
  renderMessages(data.messages);
  for (const tst of data.toasts || []) toast(tst.text, tst.alert ? "alert" : "");
}

// --- actions -------------------------------------------------------------------------

async function sendText(text) {
  text = text.trim();
  if (!text) return;
  try {
    await api(`/api/chat/${state.current}/send`, { text });
  } catch (err) {
    toast(`보내지 못했어요 · ${err.message}`, "error");
  }
}

async function press(messageId, data, btn) {
  btn.disabled = true;
  setTimeout(() => { btn.disabled = false; }, 1500);
  try {
    await api(`/api/chat/${state.current}/press`, { message_id: messageId, data });
  } catch (err) {
    toast(`버튼을 누르지 못했어요 · ${err.message}`, "error");
  }
}

async function pay(messageId, btn) {
  btn.disabled = true;
  try {
    await api(`/api/chat/${state.current}/pay`, { message_id: messageId });
    btn.textContent = "결제 완료 · Paid";
  } catch (err) {
    btn.disabled = false;
    toast(`결제 실패 · ${err.message}`, "error");
  }
}

// --- long polls ----------------------------------------------------------------------

// "?once": fetch a single snapshot and stop (headless screenshots wait for idle network).
const ONCE = new URLSearchParams(location.search).has("once");

async function pollOpenChat(userId, ctrl) {
  while (!ctrl.signal.aborted) {
    try {
      const res = await fetch(`/api/chat/${userId}?since=${state.version}`, { signal: ctrl.signal });
      if (!res.ok) throw new Error(res.statusText);
      const data = await res.json();
      if (!ctrl.signal.aborted) applyState(data);
      $("status").textContent = "봇 · bot";
      if (ONCE) return;
    } catch (err) {
      if (ctrl.signal.aborted) return;
      $("status").textContent = "연결 끊김 · offline (retrying)";
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

async function watchOther(person) {  // a red dot when a chat we are not looking at changes
  const ctrl = new AbortController();
  state.watchers.set(person.id, ctrl);
  let since = state.version;
  while (!ctrl.signal.aborted) {
    try {
      const res = await fetch(`/api/chat/${person.id}?since=${since}`, { signal: ctrl.signal });
      const data = await res.json();
      if (ctrl.signal.aborted) return;
      const newest = Math.max(0, ...data.messages.map((m) => m.last_seq));
      if (newest > since) tab(person.id).classList.add("unread");
      since = data.version;
    } catch (err) {
      if (ctrl.signal.aborted) return;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

const tab = (id) => document.querySelector(`#switch button[data-user="${id}"]`);

function open(userId) {
  if (state.poll) state.poll.abort();
  for (const ctrl of state.watchers.values()) ctrl.abort();
  state.watchers.clear();
  state.current = userId;
  state.version = 0;
  state.nodes.clear();
  $("messages").replaceChildren();
  for (const b of document.querySelectorAll("#switch button")) {
    const on = Number(b.dataset.user) === userId;
    b.setAttribute("aria-selected", String(on));
    if (on) b.classList.remove("unread");
  }
  history.replaceState(null, "", `#${userId}`);
  const ctrl = new AbortController();
  state.poll = ctrl;
  pollOpenChat(userId, ctrl).then(() => {});
  // start the watchers once the first snapshot fixed our journal position
  setTimeout(() => {
    if (state.poll !== ctrl || ONCE) return;
    for (const p of state.people) if (p.id !== userId) watchOther(p);
  }, 500);
  $("input").focus();
}

async function init() {
  try {
    state.people = await api("/api/people");
  } catch {
    state.people = [...document.querySelectorAll("#switch button")]
      .map((b) => ({ id: Number(b.dataset.user), name: b.textContent }));
  }
  const sw = $("switch");
  sw.replaceChildren();
  for (const p of state.people) {
    const icon = p.role === "admin" ? "🛠" : "👤";
    sw.append(el("button", { type: "button", role: "tab", "data-user": String(p.id),
      onclick: () => open(p.id) }, `${icon} ${p.name}`));
  }
  $("form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("input").value;
    $("input").value = "";
    sendText(text);
  });
  const fromHash = Number(location.hash.slice(1));
  const first = state.people.find((p) => p.id === fromHash) || state.people[0];
  open(first.id);
}

init();
