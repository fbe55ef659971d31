// The demo page: connect with a name, join a room, chat, and watch events pushed by `publish`.
"use strict";

const $ = (id) => document.getElementById(id);
let socket = null;
let room = null;

function setStatus(state) {
  const transport = socket && socket.connected ? ` · ${socket.io.engine.transport.name}` : "";
  $("status").dataset.state = state;
  $("status").textContent = state + transport;
}

function showError(text) {
  $("error").textContent = text;
}

function addItem(list, parts, mine) {
  const li = document.createElement("li");
  if (mine) li.classList.add("mine");
  for (const [cls, text, tag] of parts) {
    const el = document.createElement(tag || "span");
    if (cls) el.className = cls;
    el.textContent = text; // always text: messages never become markup
    li.appendChild(el);
  }
  list.appendChild(li);
  li.scrollIntoView({ block: "nearest" });
}

function time(ms) {
  return new Date(ms).toLocaleTimeString();
}

function explain(ack) {
  return ack && ack.ok === false ? `${ack.error}: ${ack.message}` : "no answer from the hub";
}

function connect(name) {
  if (socket) socket.disconnect();
  socket = io({ auth: name ? { user: name } : {} });
  setStatus("connecting");
  socket.on("connect", () => {
    setStatus("connected");
    showError("");
    socket.io.engine.on("upgrade", () => setStatus("connected"));
    if (room) join(room);
  });
  socket.on("connect_error", (err) => { setStatus("disconnected"); showError(err.message); });
  socket.on("disconnect", () => setStatus("disconnected"));
  socket.io.on("reconnect_attempt", () => setStatus("reconnecting"));
  socket.on("chat", (m) => addItem($("messages"), [["meta", `${time(m.ts)} ${m.user} in ${m.room}`], [null, m.text]]));
  socket.onAny((event, ...args) => {
    if (event === "chat") return;
    const data = args.length === 1 ? args[0] : args;
    const text = typeof data === "string" ? data : JSON.stringify(data, null, 2);
    addItem($("events"), [["meta", `${time(Date.now())} ${event}`], [null, text, "pre"]]);
  });
}

async function join(name) {
  const ack = await socket.timeout(5000).emitWithAck("join", name).catch(() => null);
  if (ack && ack.ok) {
    room = ack.room;
    $("publish-cmd").textContent = `publish --event foo --data bar --room ${ack.room}`;
    addItem($("messages"), [["meta", `joined ${ack.room} (${ack.members} online)`]]);
  } else {
    showError(explain(ack));
  }
}

$("connect-form").addEventListener("submit", (e) => { e.preventDefault(); connect($("name").value.trim()); });
$("room-form").addEventListener("submit", (e) => {
  e.preventDefault();
  if (!socket) connect($("name").value.trim());
  join($("room").value.trim());
});
$("chat-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("text").value;
  if (!socket || !room) return showError("join a room first");
  const ack = await socket.timeout(5000).emitWithAck("chat", { room, text }).catch(() => null);
  if (ack && ack.ok) {
    addItem($("messages"), [["meta", `${time(ack.ts)} you in ${room}`], [null, text]], true);
    $("text").value = "";
    showError("");
  } else {
    showError(explain(ack));
  }
});

connect("");
