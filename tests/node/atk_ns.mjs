import { io } from "socket.io-client";
const url = process.argv[2];
const nss = ["/admin", "/Admin", "/admin/", "/admin?x=1", "/admin#", "//admin", "/admin%20", "/ADMIN"];
function attempt(ns, auth) {
  return new Promise((res) => {
    const s = io(url + ns, { forceNew: true, transports: ["websocket"], auth, reconnection: false, timeout: 3000 });
    const t = setTimeout(() => { s.close(); res(`timeout`); }, 4000);
    const evs = [];
    s.onAny((e, ...a) => evs.push(e));
    s.on("connect", () => setTimeout(() => { clearTimeout(t); s.close(); res(`CONNECTED nsp=${s.nsp} events=${evs.join(",")}`); }, 800));
    s.on("connect_error", (e) => { clearTimeout(t); s.close(); res(`error: ${e.message}`); });
  });
}
for (const ns of nss) console.log(ns, "=>", await attempt(ns, { username: "admin", password: "x" }));
