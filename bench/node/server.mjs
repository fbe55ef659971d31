// The Node reference server for the benchmarks: the official `socket.io` v4 package serving the hub's
// wire contract for the benchmark scenarios (join, publish into rooms, echo), as a team tuning one Node
// process would write it: rooms are counted from the adapter, synchronously.
//
// Usage: node server.mjs PORT [TOKEN] [adapter|fetch]   (PORT 0: any free port). Prints "listening on
// PORT" once ready. `fetch` counts with `fetchSockets()` instead, the asynchronous, cluster-ready path
// (and slower on one process): bench/run.sh's `node-fetch` server, a labelled extra row only.
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 3000);
const token = process.argv[3] ?? "bench-publish-token";
const counting = process.argv[4] ?? "adapter";
if (!["adapter", "fetch"].includes(counting)) {
  console.error(`server.mjs: counting must be adapter or fetch, not ${counting}`);
  process.exit(2);
}
const httpServer = createServer();
const io = new Server(httpServer, { serveClient: false });

const root = io.of("/");

/** Sockets in `room` (join's ack). */
async function roomSize(room) {
  if (counting === "fetch") return (await io.in(room).fetchSockets()).length;
  return root.adapter.rooms.get(room)?.size ?? 0;
}

/** Sockets a publish into `rooms` (all of `/` when empty) reaches, the publisher `self` excluded. */
async function audience(rooms, self) {
  if (counting === "fetch") {
    const targets = rooms.length ? io.in(rooms) : root;
    return (await targets.fetchSockets()).filter((s) => s.id !== self).length;
  }
  if (!rooms.length) return root.sockets.size - (root.sockets.has(self) ? 1 : 0);
  const reached = new Set();
  for (const room of rooms) for (const id of root.adapter.rooms.get(room) ?? []) reached.add(id);
  reached.delete(self);
  return reached.size;
}

io.on("connection", (socket) => {
  const publisher = socket.handshake.auth?.token === token;

  socket.on("join", async (room, ack) => {
    if (typeof room !== "string" || room.length === 0) return ack?.({ ok: false, error: "bad_request", message: "room" });
    socket.join(room);
    const members = await roomSize(room);
    ack?.({ ok: true, room, members });
  });

  socket.on("publish", async (request, ack) => {
    if (!publisher) return ack?.({ ok: false, error: "forbidden", message: "only publishers may publish" });
    const rooms = Array.isArray(request?.rooms) ? request.rooms : [];
    const delivered = await audience(rooms, socket.id);
    (rooms.length ? socket.to(rooms) : socket.broadcast).emit(request.event, request.data ?? null);
    ack?.({ ok: true, delivered });
  });

  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    ack?.(...args);
  });
});

httpServer.listen(port, "127.0.0.1", () => console.log(`listening on ${httpServer.address().port}`));
