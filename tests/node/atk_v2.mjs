import ioc from "socket.io-client-v2";
const url = process.argv[2];
function attempt(ns, query) {
  return new Promise((res) => {
    const s = ioc(url + ns, { forceNew: true, transports: ["websocket"], query, reconnection: false, timeout: 3000 });
    const t = setTimeout(() => { s.close(); res(`timeout`); }, 4000);
    const evs = [];
    const oe = s.onevent; s.onevent = function (p) { evs.push(p.data[0]); oe.call(this, p); };
    s.on("connect", () => setTimeout(() => { clearTimeout(t); s.close(); res(`CONNECTED events=${evs.join(",")}`); }, 800));
    s.on("error", (e) => { clearTimeout(t); s.close(); res(`error: ${JSON.stringify(e)}`); });
  });
}
for (const [ns, q] of [["/admin", {}], ["/admin", {username:"admin", password:"an admin password for tests"}], ["/admin", {token: "pubtoken-0123456789abcdef"}], ["/chat", {token: "pubtoken-0123456789abcdef"}]])
  console.log(ns, JSON.stringify(q), "=>", await attempt(ns, q));
