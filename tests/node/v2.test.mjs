// socket.io v2 clients (Engine.IO 3, the official socket.io-client@2 from npm) against the real hub:
// accepted with --allow-eio3, where they give `user` and `token` in the handshake's query string and talk
// with v4 clients; refused without it, as Node refuses them without `allowEIO3`.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import ioV2 from "socket.io-client-v2";
import { TOKEN, ack, connect, epochOf, nextEvent, noEvent, startHub } from "./harness.mjs";

const ALLOW = { HUB_ALLOW_EIO3: "true" };

/** Connects a v2 client and waits for it to join `/` (or rejects with the hub's refusal). */
function connectV2(url, { transports, query = {} } = {}) {
  const socket = ioV2(url, { query, transports, reconnection: false, forceNew: true });
  return settle(socket);
}

/**
 * Resolves with `socket` once connected. A refusal by the hub's admission arrives as a v2 `error` event
 * carrying `{message}`; a transport that cannot open as `connect_error`.
 */
function settle(socket) {
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("error", (err) => {
      socket.close();
      reject(Object.assign(new Error(err?.message ?? String(err)), { data: err }));
    });
    socket.once("connect_error", (err) => {
      socket.close();
      reject(err);
    });
  });
}

/** Emits with an ack (v2 has no `.timeout()`) and resolves with the ack's arguments. */
function ackV2(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for ${event} within 5000 ms`)), 5000);
    socket.emit(event, ...args, (...reply) => {
      clearTimeout(timer);
      resolve(reply);
    });
  });
}

const transportModes = { "polling then upgrade": ["polling", "websocket"], websocket: ["websocket"] };

for (const [mode, transports] of Object.entries(transportModes)) {
  describe(`a socket.io v2 client over ${mode}, with --allow-eio3`, () => {
    let hub;
    const sockets = [];
    const keep = (socket) => {
      sockets.push(socket);
      return socket;
    };
    const openV2 = async (query) => keep(await connectV2(hub.url, { transports, query }));
    const openV4 = async (auth) => keep(await connect(hub.url, { transports, auth }));

    before(async () => {
      hub = await startHub({ env: ALLOW });
    });
    after(async () => {
      sockets.forEach((s) => s.close());
      assert.equal(await hub.stop(), 0, "the hub exits 0 on SIGTERM");
    });

    test("joins a room and gets the same acks as a v4 client", async () => {
      const bob = await openV2({ user: "bob" });
      const [joined] = await ackV2(bob, "join", "v2-lobby");
      const epoch = epochOf(joined);
      assert.deepEqual(joined, { ok: true, room: "v2-lobby", members: 1, offset: 0, epoch });
      assert.deepEqual(await ackV2(bob, "echo", 1, "two", { three: [3] }), [1, "two", { three: [3] }]);
      assert.deepEqual(await ackV2(bob, "leave", "v2-lobby"), [{ ok: true, room: "v2-lobby", members: 0 }]);
    });

    test("chats with a v4 client, both ways, under the name from its query string", async () => {
      const bob = await openV2({ user: "bob" });
      const alice = await openV4({ user: "alice" });
      await ackV2(bob, "join", "mixed");
      await ack(alice, "join", "mixed");

      const toAlice = nextEvent(alice, "chat");
      const [sent] = await ackV2(bob, "chat", { room: "mixed", text: "hi from v2" });
      const epoch = epochOf(sent);
      assert.deepEqual(sent, { ok: true, ts: sent.ts, offset: 1, epoch });
      const fromBob = { room: "mixed", text: "hi from v2", user: "bob", ts: sent.ts, offset: 1, epoch };
      assert.deepEqual(await toAlice, [fromBob]);

      const toBob = nextEvent(bob, "chat");
      const [reply] = await ack(alice, "chat", { room: "mixed", text: "hi from v4" });
      const fromAlice = { room: "mixed", text: "hi from v4", user: "alice", ts: reply.ts, offset: 2, epoch };
      assert.deepEqual(await toBob, [fromAlice]);
    });

    test("receives what a v4 publisher publishes into its room, metadata only when asked", async () => {
      const subscriber = await openV2({ user: "sub" });
      const withMeta = await openV2({ user: "meta", meta: "true" });
      const outside = await openV2();
      const publisher = await openV4({ token: TOKEN });
      await ackV2(subscriber, "join", "news");
      await ackV2(withMeta, "join", "news");
      const received = nextEvent(subscriber, "headline");
      const receivedWithMeta = nextEvent(withMeta, "headline");
      const silent = noEvent(outside, "headline");
      const [reply] = await ack(publisher, "publish", { event: "headline", data: { id: 7 }, rooms: ["news"] });
      const epoch = epochOf(reply.recorded?.[0]);
      assert.deepEqual(reply, { ok: true, delivered: 2, recorded: [{ room: "news", offset: 1, epoch }] });
      assert.deepEqual(await received, [{ id: 7 }], "exactly the published data");
      assert.deepEqual(await receivedWithMeta, [{ id: 7 }, { namespace: "/", room: "news", offset: 1, epoch }]);
      await silent;
    });

    test("publishes as a publisher with the token in its query string", async () => {
      const publisher = await openV2({ token: TOKEN });
      const subscriber = await openV4();
      await ack(subscriber, "join", "from-v2");
      const published = nextEvent(subscriber, "update");
      const request = { event: "update", data: "v2 says hi", rooms: ["from-v2"] };
      const [reply] = await ackV2(publisher, "publish", request);
      const recorded = [{ room: "from-v2", offset: 1, epoch: epochOf(reply.recorded?.[0]) }];
      assert.deepEqual(reply, { ok: true, delivered: 1, recorded });
      const [data] = await published;
      assert.equal(data, "v2 says hi");

      const direct = nextEvent(subscriber, "foo");
      const [emitted] = await ackV2(publisher, "foo", "bar");
      assert.equal(emitted.ok, true);
      assert.deepEqual(await direct, ["bar"], "a direct emit keeps its arguments unchanged");
    });

    test("without the token it may not publish, and a wrong token is refused", async () => {
      const browser = await openV2({ user: "eve" });
      const [reply] = await ackV2(browser, "publish", { event: "headline", data: 1 });
      assert.equal(reply.error, "forbidden");
      await assert.rejects(connectV2(hub.url, { transports, query: { token: "wrong" } }), {
        message: "invalid publish token",
      });
      await assert.rejects(connectV2(hub.url, { transports, query: { user: "" } }), /^Error: invalid user/);
    });

    test("connects to another namespace through a Manager that holds the query", async () => {
      const manager = new ioV2.Manager(hub.url, { query: { user: "nina" }, transports, reconnection: false });
      const socket = keep(await settle(manager.socket("/orders")));
      const [joined] = await ackV2(socket, "join", "r");
      assert.deepEqual(joined, { ok: true, room: "r", members: 1, offset: 0, epoch: epochOf(joined) });
      const v4InOrders = keep(await connect(hub.url, { transports, namespace: "/orders" }));
      await ack(v4InOrders, "join", "r");
      const heard = nextEvent(v4InOrders, "chat");
      await ackV2(socket, "chat", { room: "r", text: "in /orders" });
      const [message] = await heard;
      assert.equal(message.user, "nina");
    });
  });
}

describe("the query string of a v2 client", () => {
  const secret = "query-secret-7f3a9c";
  let hub;

  before(async () => {
    // The most verbose level the hub allows, so that nothing can print the query string unseen.
    hub = await startHub({ token: secret, env: { ...ALLOW, RUST_LOG: "trace" } });
  });
  after(async () => {
    assert.equal(await hub.stop(), 0);
  });

  test("is never logged, not even at trace level", async () => {
    for (const transports of Object.values(transportModes)) {
      const socket = await connectV2(hub.url, { transports, query: { user: "bob", token: secret } });
      assert.deepEqual(await ackV2(socket, "echo", "x"), ["x"]);
      socket.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.match(hub.log(), /user=bob publisher=true/, "the publisher was admitted");
    assert.ok(!hub.log().includes(secret), "the token appears in the hub's log");
  });
});

describe("a socket.io v2 client, without --allow-eio3", () => {
  let hub;

  before(async () => {
    hub = await startHub();
  });
  after(async () => {
    assert.equal(await hub.stop(), 0);
  });

  test("is refused at the handshake, on both transports", async () => {
    const polling = connectV2(hub.url, { transports: ["polling"], query: { user: "bob" } });
    await assert.rejects(polling, (err) => err.message === "xhr poll error" && err.description === 400);
    await assert.rejects(connectV2(hub.url, { transports: ["websocket"] }), { message: "websocket error" });
    assert.match(hub.log(), /socket\.io v2 client refused: start the hub with --allow-eio3/);
  });

  test("gets Engine.IO's error code 5 and a message that says why", async () => {
    const response = await fetch(`${hub.url}/socket.io/?EIO=3&transport=polling`);
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.equal(body.code, 5);
    assert.match(body.message, /^Unsupported protocol version: .*--allow-eio3/);
  });

  test("leaves v4 clients alone", async () => {
    const socket = await connect(hub.url, { transports: ["polling"] });
    assert.deepEqual(await ack(socket, "echo", 1), [1]);
    socket.close();
  });
});
