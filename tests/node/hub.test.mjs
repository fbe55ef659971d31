// The hub with the official socket.io-client, over websocket, over polling only, and with the upgrade.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { TOKEN, ack, binary, connect, nextEvent, noEvent, startHub } from "./harness.mjs";

const run = promisify(execFile);
const transportModes = {
  websocket: ["websocket"],
  polling: ["polling"],
  "polling then upgrade": ["polling", "websocket"],
};

for (const [mode, transports] of Object.entries(transportModes)) {
  describe(`over ${mode}`, () => {
    let hub;
    const sockets = [];
    const open = async (options = {}) => {
      const socket = await connect(hub.url, { transports, ...options });
      sockets.push(socket);
      return socket;
    };

    before(async () => {
      hub = await startHub();
    });
    after(async () => {
      sockets.forEach((s) => s.close());
      assert.equal(await hub.stop(), 0, "the hub exits 0 on SIGTERM");
    });

    test("join acks with the room and its size", async () => {
      const [a, b] = [await open(), await open()];
      assert.deepEqual(await ack(a, "join", "lobby"), [{ ok: true, room: "lobby", members: 1 }]);
      assert.deepEqual(await ack(b, "join", "lobby"), [{ ok: true, room: "lobby", members: 2 }]);
      assert.deepEqual(await ack(b, "join", ""), [
        { ok: false, error: "bad_request", message: "room name must be 1 to 128 characters, got 0" },
      ]);
      assert.deepEqual(await ack(a, "leave", "lobby"), [{ ok: true, room: "lobby", members: 1 }]);
    });

    test("members hear the room's new size after a join", async () => {
      const [a, b] = [await open(), await open()];
      await ack(a, "join", "sized");
      assert.deepEqual(await nextEvent(a, "members"), [{ room: "sized", members: 1 }]);
      const update = nextEvent(a, "members");
      await ack(b, "join", "sized");
      assert.deepEqual(await update, [{ room: "sized", members: 2 }]);
    });

    test("chat reaches the other members of the room, not the sender", async () => {
      const alice = await open({ auth: { user: "alice" } });
      const bob = await open({ auth: { user: "bob" } });
      const carol = await open();
      await ack(alice, "join", "chat-room");
      await ack(bob, "join", "chat-room");
      const received = nextEvent(bob, "chat");
      const silentAlice = noEvent(alice, "chat");
      const silentCarol = noEvent(carol, "chat");
      const [reply] = await ack(alice, "chat", { room: "chat-room", text: "hi bob" });
      assert.equal(reply.ok, true);
      const [message] = await received;
      assert.deepEqual(message, { room: "chat-room", text: "hi bob", user: "alice", ts: reply.ts });
      await Promise.all([silentAlice, silentCarol]);
      const [refused] = await ack(carol, "chat", { room: "chat-room", text: "let me in" });
      assert.equal(refused.error, "not_in_room");
    });

    test("echo acks with the same arguments", async () => {
      const socket = await open();
      assert.deepEqual(await ack(socket, "echo", 1, "two", { three: [3] }), [1, "two", { three: [3] }]);
      assert.deepEqual(await ack(socket, "echo"), [], "no arguments in, none out");
      assert.deepEqual(await ack(socket, "echo", [1, 2]), [[1, 2]], "an array stays one argument");
    });

    test("a publisher publishes into a room", async () => {
      const publisher = await open({ auth: { token: TOKEN } });
      const [inRoom, outside] = [await open(), await open()];
      await ack(inRoom, "join", "news");
      const received = nextEvent(inRoom, "headline");
      const silent = noEvent(outside, "headline");
      const request = { event: "headline", data: { id: 7 }, rooms: ["news"] };
      const [reply] = await ack(publisher, "publish", request);
      assert.deepEqual(reply, { ok: true, delivered: 1 });
      assert.deepEqual(await received, [{ id: 7 }, { namespace: "/", room: "news" }], "data, then its route");
      await silent;
    });

    test("a browser may not publish", async () => {
      const browser = await open();
      const [reply] = await ack(browser, "publish", { event: "headline", data: 1 });
      assert.equal(reply.ok, false);
      assert.equal(reply.error, "forbidden");
    });

    test("a publisher's direct `foo` goes to the whole namespace (Elephant.io style)", async () => {
      const publisher = await open({ auth: { token: TOKEN } });
      const [a, b] = [await open(), await open()];
      const got = Promise.all([nextEvent(a, "foo"), nextEvent(b, "foo")]);
      const notMe = noEvent(publisher, "foo");
      publisher.emit("foo", "bar");
      assert.deepEqual(await got, [["bar"], ["bar"]]);
      await notMe;
      const [reply] = await ack(publisher, "foo", "again");
      assert.equal(reply.ok, true);
      assert.ok(reply.delivered >= 2, `delivered to ${reply.delivered}`);
    });

    test("a wrong token is refused with connect_error", async () => {
      await assert.rejects(connect(hub.url, { transports, auth: { token: "wrong" } }), {
        message: "invalid publish token",
      });
    });

    test("the real `publish` CLI reaches official clients", async () => {
      const subscriber = await open();
      await ack(subscriber, "join", "cli-room");
      const received = nextEvent(subscriber, "foo");
      const { stdout } = await run(binary("publish"), [
        "--url", hub.url, "--token", TOKEN, "--event", "foo", "--data", "bar", "--room", "cli-room",
      ]);
      assert.equal(stdout, "delivered to 1\n");
      assert.deepEqual(await received, ["bar", { namespace: "/", room: "cli-room" }]);
    });

    test("a dynamic namespace works like /", async () => {
      const a = await open({ namespace: "/orders" });
      const b = await open({ namespace: "/orders" });
      await ack(a, "join", "r");
      assert.deepEqual(await ack(b, "join", "r"), [{ ok: true, room: "r", members: 2 }]);
      await assert.rejects(connect(hub.url, { transports, namespace: "/bad.name" }), /namespace/);
    });

    if (transports.length > 1) {
      test("the transport upgrades from polling to websocket", async () => {
        const socket = await open();
        if (socket.io.engine.transport.name !== "websocket") {
          await once(socket.io.engine, "upgrade");
        }
        assert.equal(socket.io.engine.transport.name, "websocket");
        assert.deepEqual(await ack(socket, "echo", "after upgrade"), ["after upgrade"]);
      });
    }
  });
}

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, resolve));
}
