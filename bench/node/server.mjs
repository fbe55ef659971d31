// The Node reference server for the benchmarks: the official `socket.io` v4 package serving the hub's
// wire contract for the benchmark scenarios (join, publish into rooms, echo), as a team would write it.
//
// Usage: node server.mjs PORT [TOKEN]   (PORT 0: any free port). Prints "listening on PORT" once ready.
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.argv[2] ?? 3000);
const token = process.argv[3] ?? "bench-publish-token";
const httpServer = createServer();
const io = new Server(httpServer, { serveClient: false });

io.on("connection", (socket) => {
  const publisher = socket.handshake.auth?.token === token;

  socket.on("join", async (room, ack) => {
    if (typeof room !== "string" || room.length === 0) return ack?.({ ok: false, error: "bad_request", message: "room" });
    socket.join(room);
    const members = (await io.in(room).fetchSockets()).length;
    ack?.({ ok: true, room, members });
  });

  socket.on("publish", async (request, ack) => {
    if (!publisher) return ack?.({ ok: false, error: "forbidden", message: "only publishers may publish" });
    const rooms = Array.isArray(request?.rooms) ? request.rooms : [];
    const targets = rooms.length ? io.in(rooms) : io.of("/");
    const delivered = (await targets.fetchSockets()).filter((s) => s.id !== socket.id).length;
    (rooms.length ? socket.to(rooms) : socket.broadcast).emit(request.event, request.data ?? null);
    ack?.({ ok: true, delivered });
  });

  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    ack?.(...args);
  });
});

httpServer.listen(port, "127.0.0.1", () => console.log(`listening on ${httpServer.address().port}`));
