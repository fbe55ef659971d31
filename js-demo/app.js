// The hub's demo page: pick a name, join rooms, chat, measure an echo, and watch events pushed by
// `publish`. It speaks the hub's wire contract (PROTOCOL.md) with the official socket.io client.
// Everything that came from the network is rendered with textContent: it never becomes markup.
//
// Each room, and the namespace, is a stream of numbered events in the hub's history. The page remembers
// the last position it saw in each, so that after a reconnect it asks for what followed and shows every
// missed event once, in order.
"use strict";

const ACK_TIMEOUT_MS = 5000;
const MAX_FEED_ITEMS = 50;
const MAX_LOG_ITEMS = 200;
/** Recorded events a room shows when it is joined, and after a reconnect whose history was lost. */
const HISTORY = 50;
const DEFAULT_ORIGINS = ["http://127.0.0.1:3000", "http://localhost:3000"];

const $ = (id) => document.getElementById(id);

/** What the page knows; the DOM is redrawn from it. */
const state = {
  socket: null,
  name: localStorage.getItem("hub-demo-name") || "",
  rooms: new Map(), // room -> { members, unread, log: <ol>, seen: {offset, epoch} | null }
  joining: new Map(), // room -> its entry while the join is under way (the history comes before the ack)
  namespace: { seen: null }, // the namespace's stream: events published to all of it
  selected: null,
  published: 0,
  echoes: [],
};

// ---------------------------------------------------------------------------------------------------
// Small rendering helpers

/** Creates an element with a class and text content (never HTML). */
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function clock(ms, seconds = false) {
  const options = { hour: "2-digit", minute: "2-digit" };
  if (seconds) options.second = "2-digit";
  return new Date(ms).toLocaleTimeString([], options);
}

function timeElement(ms, seconds) {
  const node = el("time", null, clock(ms, seconds));
  node.dateTime = new Date(ms).toISOString();
  return node;
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

/** The ack's refusal in plain words. */
function explain(failure, room) {
  if (!failure) return "The hub did not answer within 5 seconds. Check your connection and try again.";
  switch (failure.error) {
    case "not_in_room":
      return `You are no longer in "${room}". Join it again to send messages there.`;
    case "rate_limited":
      return "Slow down: you are sending faster than the hub allows. Wait a moment and try again.";
    case "too_large":
      return `That is too long: ${failure.message}.`;
    case "bad_request":
      return `The hub could not accept that: ${failure.message}.`;
    case "forbidden":
      return `Not allowed: ${failure.message}.`;
    case "unavailable":
      return "The hub could not do that right now. Try again in a moment.";
    default:
      return `The hub refused: ${failure.message || failure.error}.`;
  }
}

function showError(id, text) {
  $(id).textContent = text || "";
}

/** Sends `event` and resolves with its ack object, or null when none came in time. */
async function request(event, ...args) {
  const socket = state.socket;
  if (!socket || !socket.connected) return { ok: false, error: "offline" };
  try {
    return await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, ...args);
  } catch {
    return null;
  }
}

function refusal(ack, room) {
  if (ack && ack.error === "offline") return "You are offline. The page reconnects by itself.";
  return explain(ack, room);
}

// ---------------------------------------------------------------------------------------------------
// Connection and status

function setStatus(phase) {
  const socket = state.socket;
  const transport = phase === "connected" && socket ? socket.io.engine.transport.name : null;
  $("status").dataset.state = phase;
  $("status-text").textContent = transport ? `${phase} · ${transport}` : phase;
  const online = phase === "connected";
  for (const id of ["room", "join-button", "echo-button"]) $(id).disabled = !online;
  $("identity").textContent = identity(phase);
  renderComposer();
}

function identity(phase) {
  const who = state.name ? `as ${state.name}` : "without a name (others see anon-…)";
  switch (phase) {
    case "connected":
      return `Connected ${who}.`;
    case "connecting":
      return `Connecting ${who}…`;
    case "reconnecting":
      return "The connection dropped: reconnecting by itself, your rooms are kept.";
    default:
      if (!state.socket) return "Pick the name others see, then connect.";
      return "Disconnected. Connect again to rejoin your rooms.";
  }
}

function connect(name) {
  state.name = name;
  localStorage.setItem("hub-demo-name", name);
  showError("connect-error", "");
  if (state.socket) {
    // A new name takes a new CONNECT: the name travels in its auth payload.
    state.socket.disconnect().connect();
    setStatus("connecting");
    return;
  }
  // A function, so that every reconnect sends the name and the namespace's position as they are then.
  const socket = io({ auth: (send) => send(auth()), reconnectionDelay: 500, reconnectionDelayMax: 3000 });
  state.socket = socket;
  setStatus("connecting");

  socket.on("connect", onConnect);
  socket.on("disconnect", (reason) => {
    if (reason === "io client disconnect") return setStatus("disconnected");
    setStatus("reconnecting");
    // A hub that shuts down says goodbye; the client then waits to be told to come back.
    if (reason === "io server disconnect") socket.connect();
  });
  socket.on("connect_error", (err) => {
    if (socket.active) {
      setStatus("reconnecting");
    } else {
      // Refused by the hub itself (e.g. an invalid name): retrying would not help.
      setStatus("disconnected");
      showError("connect-error", `The hub refused the connection: ${err.message}.`);
    }
  });
  socket.io.on("reconnect_attempt", () => setStatus("reconnecting"));
  socket.on("chat", onChat);
  socket.on("members", ({ room, members }) => {
    const entry = state.rooms.get(room);
    if (entry) {
      entry.members = members;
      renderRooms();
    }
  });
  socket.on("recovery", onRecovery);
  socket.onAny(onPublished);
}

/**
 * The CONNECT auth payload. The page asks for published events' metadata: where each came through and
 * where it was recorded, as their last argument. The first time it asks where the namespace's stream
 * stands (`history: 0`); after that, for what it missed.
 */
function auth() {
  const payload = { meta: true, ...resume(state.namespace, 0) };
  if (state.name) payload.user = state.name;
  return payload;
}

async function onConnect() {
  setStatus("connected");
  state.socket.io.engine.once("upgrade", () => setStatus("connected"));
  $("connect-button").textContent = "Rename";
  // The hub forgets a socket's rooms when it goes away: join them again, with what was missed meanwhile
  // (it arrives before the ack).
  for (const [room, entry] of [...state.rooms]) {
    const ack = await request("join", room, resume(entry, HISTORY));
    if (ack && ack.ok) {
      entry.members = ack.members;
      settle(entry, ack);
      note(room, recoveryNote(ack, "message", "messages"));
    } else {
      showError("rooms-error", `Could not rejoin "${room}": ${refusal(ack, room)}`);
    }
  }
  renderRooms();
}

// ---------------------------------------------------------------------------------------------------
// History (PROTOCOL.md): a stream's events have offsets 1, 2, 3... within an epoch, which changes when
// the hub lost the stream's history. A stream here is a room's entry or `state.namespace`.

/** Whether an event recorded at `offset` in `epoch` is new to `stream`; if so, the stream has seen it. */
function firstSight(stream, offset, epoch) {
  if (offset === undefined || epoch === undefined) return true; // not recorded (volatile, no history)
  const seen = stream.seen;
  if (seen && seen.epoch === epoch && offset <= seen.offset) return false;
  stream.seen = { offset, epoch };
  return true;
}

/** Takes the position a join ack or the `recovery` event reports, once what it brought has arrived. */
function settle(stream, { offset, epoch }) {
  if (offset !== undefined && epoch !== undefined) stream.seen = { offset, epoch };
}

/**
 * What to ask of a stream: every event after the last one seen (or, if the hub lost some of them, its
 * latest `HISTORY`), else its latest `latest`.
 */
function resume(stream, latest) {
  return stream.seen ? { since: stream.seen, history: HISTORY } : { history: latest };
}

/** What a reconnect brought back of a stream, as the page tells it. */
function recoveryNote({ recovered, missed = 0 }, one, many) {
  if (recovered === false) return `Reconnected: some ${many} may be missing (history lost).`;
  if (recovered === undefined) return `Reconnected without history: ${many} sent meanwhile are not shown.`;
  if (missed === 0) return `Reconnected: no ${many} missed.`;
  return `Reconnected: ${plural(missed, `missed ${one}`, `missed ${many}`)} recovered.`;
}

/** After a reconnect: the namespace's missed events have been sent (or could not be). */
function onRecovery(stream) {
  settle(state.namespace, stream);
  if (stream.recovered === false || (stream.recovered && stream.missed)) {
    feedNote(recoveryNote(stream, "namespace event", "namespace events"));
  }
}

// ---------------------------------------------------------------------------------------------------
// Rooms

async function join(room) {
  showError("rooms-error", "");
  let entry = state.rooms.get(room);
  if (!entry) {
    entry = { members: 0, unread: 0, log: el("ol", "messages"), seen: null };
    entry.log.setAttribute("aria-label", `Messages in ${room}`);
    state.joining.set(room, entry);
  }
  const ack = await request("join", room, resume(entry, HISTORY));
  state.joining.delete(room);
  if (!ack || !ack.ok) return showError("rooms-error", refusal(ack, room));
  state.rooms.set(room, entry);
  entry.members = ack.members;
  settle(entry, ack);
  const earlier = ack.missed ? `: ${plural(ack.missed, "earlier message", "earlier messages")} above` : "";
  note(room, `You joined ${room}${earlier}.`);
  select(room);
  $("room").value = "";
}

async function leave(room) {
  showError("rooms-error", "");
  const ack = await request("leave", room);
  if (!ack || !ack.ok) return showError("rooms-error", refusal(ack, room));
  state.rooms.delete(room);
  if (state.selected === room) state.selected = null;
  select(state.selected ?? state.rooms.keys().next().value ?? null);
}

function select(room) {
  state.selected = room;
  const entry = room ? state.rooms.get(room) : null;
  if (entry) entry.unread = 0;
  $("log").replaceChildren(...(entry ? [entry.log] : []));
  renderRooms();
  renderComposer();
  renderPublishCommand();
  scrollLog();
}

function renderRooms() {
  const list = $("rooms");
  list.replaceChildren();
  for (const [room, entry] of state.rooms) {
    const item = el("li", room === state.selected ? "room selected" : "room");
    const open = el("button", "room-open");
    open.type = "button";
    open.setAttribute("aria-current", room === state.selected ? "true" : "false");
    const members = el("span", "members", plural(entry.members, "member", "members"));
    open.append(el("span", "room-name", room), members);
    if (entry.unread) open.append(el("span", "unread", String(entry.unread)));
    open.addEventListener("click", () => select(room));
    const close = el("button", "room-leave ghost", "Leave");
    close.type = "button";
    close.setAttribute("aria-label", `Leave ${room}`);
    close.addEventListener("click", () => leave(room));
    item.append(open, close);
    list.append(item);
  }
  $("rooms-empty").hidden = state.rooms.size > 0;
  const entry = state.selected && state.rooms.get(state.selected);
  $("chat-title").textContent = entry ? `# ${state.selected}` : "Chat";
  $("chat-meta").textContent = entry ? `${plural(entry.members, "member", "members")} here` : "";
}

// ---------------------------------------------------------------------------------------------------
// Chat

function renderComposer() {
  const online = state.socket && state.socket.connected;
  const ready = Boolean(online && state.selected);
  $("text").disabled = !ready;
  $("send-button").disabled = !ready;
  $("text").placeholder = ready ? `Message # ${state.selected}` : online ? "Join a room to chat" : "Offline";
  $("log-empty").hidden = Boolean(state.selected && state.rooms.get(state.selected).log.childElementCount);
}

function scrollLog() {
  const log = $("log");
  log.scrollTop = log.scrollHeight;
}

/** The entry of a room the page is in, or is joining. */
function entryOf(room) {
  return state.rooms.get(room) ?? state.joining.get(room);
}

/** Appends a message to a room's log; returns its element. */
function append(room, kind, user, text, ts) {
  const entry = entryOf(room);
  if (!entry) return null;
  const item = el("li", `msg ${kind}`);
  if (kind !== "system") {
    const meta = el("div", "msg-meta");
    meta.append(el("span", "msg-user", user), timeElement(ts));
    item.append(meta);
  }
  item.append(el("div", "msg-text", text));
  entry.log.append(item);
  while (entry.log.childElementCount > MAX_LOG_ITEMS) entry.log.firstElementChild.remove();
  if (room === state.selected) {
    renderComposer();
    scrollLog();
  } else if (kind === "theirs") {
    entry.unread += 1;
    renderRooms();
  }
  return item;
}

function note(room, text) {
  if (room) append(room, "system", null, text);
}

function onChat(message) {
  const entry = entryOf(message.room);
  if (entry && firstSight(entry, message.offset, message.epoch)) {
    append(message.room, "theirs", message.user, message.text, message.ts);
  }
}

async function sendChat(text) {
  const room = state.selected;
  showError("chat-error", "");
  // Shown at once, confirmed by the ack (or marked as not sent).
  const item = append(room, "mine", "you", text, Date.now());
  item.dataset.state = "pending";
  const ack = await request("chat", { room, text });
  if (ack && ack.ok) {
    // Where it was recorded: a replay after a reconnect will not bring it back.
    const entry = state.rooms.get(room);
    if (entry) firstSight(entry, ack.offset, ack.epoch);
    item.dataset.state = "sent";
    const time = item.querySelector("time");
    time.textContent = clock(ack.ts);
    time.dateTime = new Date(ack.ts).toISOString();
  } else {
    item.dataset.state = "failed";
    item.title = "Not sent";
    showError("chat-error", refusal(ack, room));
  }
}

// ---------------------------------------------------------------------------------------------------
// Published events

const OWN_EVENTS = new Set(["chat", "members", "presence", "kicked", "recovery"]);

/**
 * With `meta: true`, every published event carries its metadata last: `{namespace, room?}`, and where its
 * stream recorded it, `{offset, epoch}`.
 */
function splitRoute(args) {
  const last = args[args.length - 1];
  const isMeta = last && typeof last === "object" && typeof last.namespace === "string";
  return isMeta ? { data: args.slice(0, -1), route: last } : { data: args, route: null };
}

function onPublished(event, ...args) {
  if (OWN_EVENTS.has(event)) return;
  const { data, route } = splitRoute(args);
  const stream = route && (route.room ? entryOf(route.room) : state.namespace);
  if (stream && !firstSight(stream, route.offset, route.epoch)) return;
  const value = data.length === 0 ? null : data.length === 1 ? data[0] : data;
  const namespace = route ? route.namespace : state.socket.nsp;
  const where = route && route.room ? `room ${route.room}` : `namespace ${namespace}`;

  const item = el("li", "event");
  const head = el("div", "event-head");
  head.append(el("code", "event-name", event), el("span", "route", where), timeElement(Date.now(), true));
  const isText = typeof value === "string";
  const text = isText ? value : JSON.stringify(value, null, 2);
  const body = el("pre", isText ? "event-data" : "event-data json", text);
  item.append(head, body);
  prependToFeed(item);
  state.published += 1;
  $("feed-count").textContent = plural(state.published, "event", "events");
}

function feedNote(text) {
  prependToFeed(el("li", "note", text));
}

/** The feed shows the newest first. */
function prependToFeed(item) {
  $("events").prepend(item);
  while ($("events").childElementCount > MAX_FEED_ITEMS) $("events").lastElementChild.remove();
  $("events-empty").hidden = true;
}

function renderPublishCommand() {
  const parts = ["publish"];
  if (!DEFAULT_ORIGINS.includes(location.origin)) parts.push("--url", location.origin);
  parts.push("--event", "foo", "--data", "bar");
  if (state.selected) parts.push("--room", shellQuote(state.selected));
  $("publish-cmd").textContent = parts.join(" ");
}

function shellQuote(word) {
  return /^[A-Za-z0-9_./:@-]+$/.test(word) ? word : `'${word.replaceAll("'", `'"'"'`)}'`;
}

// ---------------------------------------------------------------------------------------------------
// Echo round trip

async function measureEcho() {
  const started = performance.now();
  const ack = await request("echo", started);
  if (ack === null || (ack && ack.error === "offline")) {
    $("echo-result").textContent = "no answer";
    return;
  }
  const ms = performance.now() - started;
  state.echoes = [...state.echoes.slice(-9), ms];
  const best = Math.min(...state.echoes);
  $("echo-result").textContent = `${ms.toFixed(1)} ms`;
  $("echo-result").title = `best of the last ${state.echoes.length}: ${best.toFixed(1)} ms`;
}

// ---------------------------------------------------------------------------------------------------
// Wiring

$("name").value = state.name;
$("connect-form").addEventListener("submit", (e) => {
  e.preventDefault();
  connect($("name").value.trim());
});
$("join-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const room = $("room").value.trim();
  if (room) join(room);
  else showError("rooms-error", "Type the name of a room to join.");
});
$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("text").value;
  if (!text.trim()) return;
  $("text").value = "";
  sendChat(text);
});
$("echo-button").addEventListener("click", measureEcho);
$("copy-cmd").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText($("publish-cmd").textContent);
    $("copy-cmd").textContent = "Copied";
  } catch {
    $("copy-cmd").textContent = "Select it";
  }
  setTimeout(() => ($("copy-cmd").textContent = "Copy"), 1500);
});
renderPublishCommand();
renderRooms();
renderComposer();
// A returning visitor goes straight in with the name used last time.
if (state.name) connect(state.name);
else $("name").focus();
