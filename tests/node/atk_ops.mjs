import { io } from "socket.io-client";
const url = process.argv[2];
const PW = "an admin password for tests";
const wait = (ms) => new Promise(r => setTimeout(r, ms));
function open(ns, opts = {}) {
  return new Promise((res, rej) => {
    const s = io(url + ns, { forceNew: true, reconnection: false, ...opts });
    s.evs = []; s.onAny((e, ...a) => s.evs.push([e, ...a]));
    s.on("connect", () => res(s)); s.on("connect_error", (e) => rej(e));
  });
}
const victim = await open("/", { transports: ["polling"], extraHeaders: { Authorization: "Bearer SECRET-A", Cookie: "sid=SECRET-C", "X-Api-Key": "SECRET-X", "X-Auth-Token": "SECRET-T" }, query: { token: "SECRET-Q", access_token: "SECRET-AT", apikey: "SECRET-K" }, auth: { token: "pubtoken-0123456789abcdef", password: "SECRET-P" } });
const chat = await open("/chat", { transports: ["websocket"] });
const admin = await open("/admin", { auth: { username: "admin", password: PW } });
await wait(800);
const all = admin.evs.find(e => e[0] === "all_sockets");
console.log("ALL_SOCKETS", JSON.stringify(all[1], null, 0).slice(0, 3000));
const sess = admin.evs.find(e => e[0] === "session");
console.log("SESSION", sess[1]);
function op(ev, ...args) { return admin.timeout(3000).emitWithAck(ev, ...args).then(r => JSON.stringify(r), e => "ERR " + e.message); }
victim.onAny((e, ...a) => console.log("  victim got", e, JSON.stringify(a).slice(0, 100)));
chat.onAny((e, ...a) => console.log("  chat got", e, JSON.stringify(a).slice(0, 100)));
console.log("emit connect", await op("emit", "/", null, "connect", 1));
console.log("emit disconnect", await op("emit", "/", null, "disconnect", 1));
console.log("emit connect_error", await op("emit", "/", null, "connect_error", 1));
console.log("emit to /admin", await op("emit", "/admin", null, "all_sockets", []));
console.log("emit / filter=chat id", await op("emit", "/", chat.id, "x", 1));
console.log("emit / filter=victim id", await op("emit", "/", victim.id, "x", 1));
console.log("emit huge", await op("emit", "/", null, "big", "A".repeat(900000)));
console.log("join /admin", await op("join", "/admin", "r", null));
console.log("join / room=chat id", await op("join", "/", chat.id, victim.id));
console.log("leave / own id room", await op("leave", "/", victim.id, victim.id));
console.log("disconnect /chat filter=victim id close", await op("_disconnect", "/chat", true, victim.id));
console.log("disconnect / 'close' as string", await op("_disconnect", "/", "true", "nomatch"));
await wait(500);
console.log("admin events:", admin.evs.map(e => e[0]).join(","));
console.log("victim connected?", victim.connected, "chat connected?", chat.connected);
process.exit(0);
