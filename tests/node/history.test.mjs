// Recovery with the official socket.io-client, over polling and over websocket: a client whose connection
// is cut reconnects, gets the namespace's missed events at CONNECT (its `auth` is a function, so each
// reconnection sends where it stands), rejoins its room with `since`, and receives every event it missed
// once, in order, exactly as a client that stayed connected received them live.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { io } from "socket.io-client";
import { TOKEN, ack, connect, epochOf, startHub } from "./harness.mjs";

const transportModes = { polling: ["polling"], websocket: ["websocket"] };

/** Resolves once `check()` is true, checking every 20 ms; rejects after `ms`. */
async function until(what, check, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Records every event `socket` receives, in order, with the join acks among them. */
function recorder(socket) {
  const log = [];
  socket.onAny((event, ...args) => {
    if (event !== "members" && event !== "presence") log.push([event, args]);
  });
  return log;
}

/** The stream an event came through (a chat's room, a published event's metadata) and its position. */
function positionIn([event, args]) {
  const position = event === "chat" ? args[0] : args.at(-1);
  return { room: position.room ?? null, offset: position.offset, epoch: position.epoch };
}

for (const [mode, transports] of Object.entries(transportModes)) {
  describe(`recovery over ${mode}`, () => {
    let hub;
    const sockets = [];
    const open = async (options) => {
      const socket = await connect(hub.url, { transports, ...options });
      sockets.push(socket);
      return socket;
    };

    before(async () => {
      hub = await startHub({ env: { HUB_HISTORY_SIZE: "300", HUB_RATE_LIMIT: "1000", HUB_RATE_BURST: "1000" } });
    });
    after(async () => {
      sockets.forEach((s) => s.close());
      assert.equal(await hub.stop(), 0, "the hub exits 0 on SIGTERM");
    });

    test("a client cut off gets every missed event once, in order, as it was sent live", async () => {
      const publisher = await open({ auth: { token: TOKEN } });
      const chatter = await open({ auth: { user: "chatter" } });
      await ack(chatter, "join", "lobby");
      // The witness stays connected: what it receives live, the subscriber must receive again.
      const witness = await open({ auth: { meta: true } });
      const witnessed = recorder(witness);
      await ack(witness, "join", "lobby");

      // Where the subscriber stands in each stream, as it learns it from what it receives.
      let inNamespace = null;
      let inRoom = null;
      const subscriber = io(hub.url, {
        transports,
        forceNew: true,
        reconnection: false,
        // Called at each connection: a reconnection asks for the namespace's events it missed.
        auth: (send) => send(inNamespace ? { meta: true, since: inNamespace } : { meta: true, history: 0 }),
      });
      sockets.push(subscriber);
      const log = recorder(subscriber);
      subscriber.onAny((event, ...args) => {
        if (event === "recovery") inNamespace = { offset: args[0].offset, epoch: args[0].epoch };
        if (event === "members" || event === "presence" || event === "recovery") return;
        const { room, offset, epoch } = positionIn([event, args]);
        if (room === "lobby") inRoom = { offset, epoch };
        if (room === null) inNamespace = { offset, epoch };
      });
      const rejoin = async () => {
        const [reply] = await ack(subscriber, "join", "lobby", ...(inRoom ? [{ since: inRoom }] : []));
        log.push(["join ack", [reply]]);
        inRoom = { offset: reply.offset, epoch: reply.epoch };
        return reply;
      };
      await new Promise((resolve) => subscriber.once("connect", resolve));
      await until("the recovery event", () => inNamespace !== null);
      const joined = await rejoin();
      const epoch = epochOf(joined);
      assert.deepEqual(joined, { ok: true, room: "lobby", members: 3, offset: 0, epoch });

      // Live first: a namespace event and a room event.
      publisher.emit("tick", 0);
      await ack(publisher, "publish", { event: "news", data: 0, rooms: ["lobby"] });
      await until("two live events", () => inRoom.offset === 1 && inNamespace.offset === 1);

      // Cut: the client closes its transport; the hub notices.
      const disconnected = new Promise((resolve) => subscriber.once("disconnect", resolve));
      subscriber.io.engine.close();
      await disconnected;
      const members = async () => (await ack(chatter, "join", "lobby"))[0].members;
      await until("the hub drops the cut socket", async () => (await members()) === 2);
      const sinceCut = witnessed.length;

      // Meanwhile: 100 room events (chat messages, socket and HTTP API publishes) and 10 direct emits.
      for (let n = 1; n <= 100; n += 1) {
        if (n % 3 === 0) {
          const [reply] = await ack(chatter, "chat", { room: "lobby", text: `chat ${n}` });
          assert.equal(reply.ok, true);
        } else if (n % 3 === 1) {
          const [reply] = await ack(publisher, "publish", { event: "news", data: { n }, rooms: ["lobby"] });
          assert.equal(reply.ok, true);
        } else {
          const response = await fetch(`${hub.url}/api/publish`, {
            method: "POST",
            headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
            body: JSON.stringify({ event: "news", data: { n, via: "api" }, rooms: ["lobby"] }),
          });
          assert.equal(response.status, 200);
        }
        if (n % 10 === 0) publisher.emit("tick", n, "two arguments");
      }
      await until("the witness got all 110", () => witnessed.length === sinceCut + 110);
      const missed = witnessed.slice(sinceCut);
      const missedInRoom = missed.filter((event) => positionIn(event).room === "lobby");
      const missedInNamespace = missed.filter((event) => positionIn(event).room === null);
      const offsets = (events) => events.map((event) => positionIn(event).offset);
      const from2 = (count) => [...Array(count).keys()].map((i) => i + 2);
      assert.deepEqual(offsets(missedInRoom), from2(100));
      assert.deepEqual(offsets(missedInNamespace), from2(10));

      // Back: the namespace's events at CONNECT, then `recovery`; the room's at `join`, then its ack.
      const before = log.length;
      const reconnected = new Promise((resolve) => subscriber.once("connect", resolve));
      subscriber.connect();
      await reconnected;
      await until("the recovery event", () => log.at(-1)?.[0] === "recovery");
      const reply = await rejoin();
      const recovery = { offset: 11, epoch: inNamespace.epoch, recovered: true, missed: 10 };
      const recovered = { ok: true, room: "lobby", members: 3, offset: 101, epoch, recovered: true, missed: 100 };
      assert.deepEqual(log.slice(before), [
        ...missedInNamespace,
        ["recovery", [recovery]],
        ...missedInRoom,
        ["join ack", [recovered]],
      ]);
      assert.deepEqual(reply, recovered);

      // Live again, where the replay ended; nothing arrives twice.
      await ack(publisher, "publish", { event: "news", data: "live", rooms: ["lobby"] });
      await until("the live event", () => log.length === before + 10 + 1 + 100 + 1 + 1);
      assert.deepEqual(log.at(-1), ["news", ["live", { namespace: "/", room: "lobby", offset: 102, epoch }]]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(log.length, before + 113, "nothing more");
    });
  });
}
