// The demo page's KakaoTalk chat: a customer of the shop's KakaoTalk channel. What it sends
// goes through the fake Open Builder to the shop's skill; it renders what KakaoTalk would
// show (text, cards, list cards, carousels, quick replies). Text goes in as DOM text nodes,
// never parsed as HTML.
"use strict";

(() => {
  const root = document.getElementById("kakao");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const who = root.dataset.who || "k1";
  const kstate = { version: 0, seen: 0, ctrl: null };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }

  async function post(path, body) {
    const res = await fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}),
    });
    if (!res.ok) {
      const data = await res.json().catch(() => ({}));
      throw new Error(data.error || res.statusText);
    }
  }

  // --- controls -------------------------------------------------------------------

  function tapButton(seq, control, label, cls) {
    const btn = el("button", { type: "button", class: cls || "" }, label);
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      setTimeout(() => { btn.disabled = false; }, 1500);
      try { await post(`/api/kakao/${who}/tap`, { seq, control }); } catch (err) { console.warn(err); }
    });
    return btn;
  }

  const SAFE_URL = /^https?:/i;

  function buttons(seq, list) {
    const box = el("div", { class: "kbuttons" });
    for (const b of list || []) {
      if (b.action === "webLink") {
        box.append(el("a", { href: SAFE_URL.test(b.webLinkUrl || "") ? b.webLinkUrl : "#",
          target: "_blank", rel: "noopener noreferrer" }, b.label));
      } else {
        box.append(tapButton(seq, { kind: "button", label: b.label, extra: b.extra || null }, b.label));
      }
    }
    return box;
  }

  function textCard(seq, c) {
    const card = el("div", { class: "kcard" });
    if (c.title) card.append(el("div", { class: "ktitle" }, c.title));
    if (c.description) card.append(el("div", { class: "kdesc" }, c.description));
    if (c.buttons && c.buttons.length) card.append(buttons(seq, c.buttons));
    return card;
  }

  function listCard(seq, c) {
    const card = el("div", { class: "kcard" });
    card.append(el("div", { class: "khead" }, (c.header || {}).title || ""));
    for (const item of c.items || []) {
      const label = [item.title];
      if (item.description) label.push(el("small", {}, item.description));
      if (item.action) {
        const btn = tapButton(seq, { kind: "item", label: item.title, extra: item.extra || null }, "", "kitem");
        btn.replaceChildren(...label);
        card.append(btn);
      } else {
        card.append(el("div", { class: "kitem" }, ...label));
      }
    }
    if (c.buttons && c.buttons.length) card.append(buttons(seq, c.buttons));
    return card;
  }

  function component(seq, output) {
    const [name, body] = Object.entries(output)[0] || [];
    if (name === "simpleText") return el("div", { class: "kbubble" }, body.text || "");
    if (name === "textCard") return textCard(seq, body);
    if (name === "listCard") return listCard(seq, body);
    if (name === "carousel") {
      const box = el("div", { class: "kcarousel" });
      for (const item of body.items || []) {
        box.append(body.type === "listCard" ? listCard(seq, item) : textCard(seq, item));
      }
      return box;
    }
    return el("div", { class: "kbubble" }, `[${name}]`);
  }

  // --- transcript -----------------------------------------------------------------

  function botRow(...children) {
    return el("div", { class: "krow bot" }, el("span", { class: "kavatar" }, "M"),
      el("div", { class: "kstack" }, el("span", { class: "kname" }, "MASK24"), ...children));
  }

  function bubbleNode(b) {
    if (b.who === "user") return el("div", { class: "krow me" }, el("div", { class: "kbubble" }, b.text));
    if (b.who === "error") return botRow(el("div", { class: "kbubble error" }, b.text));
    if (b.who === "event") return botRow(el("div", { class: "kbubble event" }, b.text));
    const outputs = (b.template || {}).outputs || [];
    return botRow(...outputs.map((o) => component(b.seq, o)));
  }

  function render(data) {
    const list = $("k-messages");
    for (const b of data.bubbles) {
      if (b.seq <= kstate.seen) continue;
      list.append(bubbleNode(b));
      kstate.seen = b.seq;
    }
    const empty = list.querySelector(".empty");
    if (empty && data.bubbles.length) empty.remove();
    // quick replies: only under the newest answer, as in KakaoTalk
    const last = data.bubbles[data.bubbles.length - 1];
    const quick = $("k-quick");
    quick.replaceChildren();
    const chips = last && last.who === "bot" ? ((last.template || {}).quickReplies || []) : [];
    for (const q of chips) {
      quick.append(tapButton(last.seq, { kind: "quick", label: q.label, extra: q.extra || null }, q.label));
    }
    quick.hidden = !chips.length;
    list.scrollTop = list.scrollHeight;
  }

  const ONCE = new URLSearchParams(location.search).has("once");

  async function poll() {
    for (;;) {
      try {
        const res = await fetch(`/api/kakao/${who}/chat?since=${kstate.version}`);
        if (!res.ok) throw new Error(res.statusText);
        const data = await res.json();
        kstate.version = data.version;
        render(data);
        $("k-status").textContent = "카카오톡 채널 · KakaoTalk channel";
        if (ONCE) return;
      } catch (err) {
        $("k-status").textContent = "연결 끊김 · offline (retrying)";
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  $("k-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("k-input").value.trim();
    $("k-input").value = "";
    if (!text) return;
    try { await post(`/api/kakao/${who}/say`, { text }); } catch (err) { console.warn(err); }
  });

  post(`/api/kakao/${who}/enter`).catch(() => {});  // the welcome block, on first visit
  poll();
})();
