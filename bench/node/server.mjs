// The Node reference server for the benchmarks: the official `socket.io` v4 package serving the hub's
// wire contract for the benchmark scenarios (join, publish into rooms, echo), as a team tuning one Node
// process would write it: rooms are counted from the adapter, synchronously.
//
// Usage: node server.mjs PORT [TOKEN] [adapter|fetch] [REDIS_URL]   (PORT 0: any free port). Prints
// "listening on PORT" once ready. `fetch` counts with `fetchSockets()` instead, the asynchronous,
// cluster-ready path (and slower on one process): bench/run.sh's `node-fetch` server, a labelled extra
// row only.
//
// With REDIS_URL the process is one node of a cluster (bench/cluster.sh runs three): it installs the
// official `@socket.io/redis-adapter` with the `redis` client, as that package's README shows (a
// publishing client and its duplicate for subscriptions), and listens once both are connected; a Redis
// error ends the process, so a broken cluster cannot pass for a slow one. Broadcasts then reach the
// sockets of every node. The counts in the acks stay as a tuned cluster would write them, and that
// favours Node:
// - `adapter` counts from this node's adapter only: a publish is acked with `delivered` = the sockets
//   reached on this node, and a join with this node's members of the room. Counting the whole cluster
//   takes a round trip to every node through Redis before the ack, which this row skips; the hub's
//   acks count the whole cluster.
// - `fetch` counts the whole cluster with `fetchSockets()` (a request to every node through Redis,
//   answered before the ack): the like-for-like count, and the slow path.
import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 3000);
const token = process.argv[3] ?? "bench-publish-token";
const counting = process.argv[4] ?? "adapter";
const redisUrl = process.argv[5];
if (!["adapter", "fetch"].includes(counting)) {
  console.error(`server.mjs: counting must be adapter or fetch, not ${counting}`);
  process.exit(2);
}
const httpServer = createServer();
const io = new Server(httpServer, { serveClient: false });
if (redisUrl) {
  const pubClient = createClient({ url: redisUrl });
  const subClient = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect()]);
  io.adapter(createAdapter(pubClient, subClient));
}

const root = io.of("/");

/** Sockets in `room` (join's ack): on this node only, in a cluster, unless counting with `fetch`. */
async function roomSize(room) {
  if (counting === "fetch") return (await io.in(room).fetchSockets()).length;
  return root.adapter.rooms.get(room)?.size ?? 0;
}

/**
 * Sockets a publish into `rooms` (all of `/` when empty) reaches, the publisher `self` excluded: on this
 * node only, in a cluster, unless counting with `fetch`.
 */
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
    try {
      ack?.({ ok: true, room, members: await roomSize(room) });
    } catch (e) {
      // fetchSockets() rejects when a node does not answer within the adapter's timeout (5 s).
      ack?.({ ok: false, error: "unavailable", message: String(e?.message ?? e) });
    }
  });

  socket.on("publish", async (request, ack) => {
    if (!publisher) return ack?.({ ok: false, error: "forbidden", message: "only publishers may publish" });
    const rooms = Array.isArray(request?.rooms) ? request.rooms : [];
    let delivered;
    try {
      delivered = await audience(rooms, socket.id);
    } catch (e) {
      return ack?.({ ok: false, error: "unavailable", message: String(e?.message ?? e) });
    }
    (rooms.length ? socket.to(rooms) : socket.broadcast).emit(request.event, request.data ?? null);
    ack?.({ ok: true, delivered });
  });

  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    ack?.(...args);
  });
});

httpServer.listen(port, "127.0.0.1", () => console.log(`listening on ${httpServer.address().port}`));
