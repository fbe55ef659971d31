// The hub with the official socket.io-client, over websocket, over polling only, and with the upgrade.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { TOKEN, ack, binary, connect, epochOf, nextEvent, noEvent, startHub } from "./harness.mjs";

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

    test("join acks with the room, its size and where its stream stands", async () => {
      const [a, b] = [await open(), await open()];
      const [first] = await ack(a, "join", "lobby");
      const epoch = epochOf(first);
      assert.deepEqual(first, { ok: true, room: "lobby", members: 1, offset: 0, epoch });
      assert.deepEqual(await ack(b, "join", "lobby"), [{ ok: true, room: "lobby", members: 2, offset: 0, epoch }]);
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
      const epoch = epochOf(reply);
      assert.deepEqual(reply, { ok: true, ts: reply.ts, offset: 1, epoch }, "the room's first recorded event");
      const [message] = await received;
      const sent = { room: "chat-room", text: "hi bob", user: "alice", ts: reply.ts, offset: 1, epoch };
      assert.deepEqual(message, sent);
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

    test("a publisher publishes into a room: exact data, metadata for who asks", async () => {
      const publisher = await open({ auth: { token: TOKEN } });
      const [inRoom, withMeta, outside] = [await open(), await open({ auth: { meta: true } }), await open()];
      await ack(inRoom, "join", "news");
      await ack(withMeta, "join", "news");
      const received = nextEvent(inRoom, "headline");
      const receivedWithMeta = nextEvent(withMeta, "headline");
      const silent = noEvent(outside, "headline");
      const request = { event: "headline", data: { id: 7 }, rooms: ["news"] };
      const [reply] = await ack(publisher, "publish", request);
      const epoch = epochOf(reply.recorded?.[0]);
      assert.deepEqual(reply, { ok: true, delivered: 2, recorded: [{ room: "news", offset: 1, epoch }] });
      assert.deepEqual(await received, [{ id: 7 }], "exactly the data");
      const meta = { namespace: "/", room: "news", offset: 1, epoch };
      assert.deepEqual(await receivedWithMeta, [{ id: 7 }, meta], "then the metadata");
      await silent;
    });

    test("a publisher's direct emits keep their arguments, binary included", async () => {
      // A namespace of their own: direct emits reach the whole namespace.
      const namespace = "/direct";
      const publisher = await open({ namespace, auth: { token: TOKEN } });
      const [plain, withMeta] = [await open({ namespace }), await open({ namespace, auth: { meta: true } })];
      const received = nextEvent(plain, "file");
      const receivedWithMeta = nextEvent(withMeta, "file");
      const [reply] = await ack(publisher, "file", "name.bin", Buffer.from([1, 2, 3]));
      const epoch = epochOf(reply.recorded?.[0]);
      const inNamespace = [{ offset: 1, epoch }];
      assert.deepEqual(reply, { ok: true, delivered: 2, recorded: inNamespace }, "the namespace's stream");
      assert.deepEqual(await received, ["name.bin", Buffer.from([1, 2, 3])]);
      const meta = { namespace, offset: 1, epoch };
      assert.deepEqual(await receivedWithMeta, ["name.bin", Buffer.from([1, 2, 3]), meta]);
      const inPublish = nextEvent(plain, "blob");
      const request = { event: "blob", data: { bytes: Buffer.from([9, 8]) } };
      const recorded = [{ offset: 2, epoch }];
      assert.deepEqual(await ack(publisher, "publish", request), [{ ok: true, delivered: 2, recorded }]);
      assert.deepEqual(await inPublish, [{ bytes: Buffer.from([9, 8]) }], "publish data relays binary too");
    });

    test("echo returns binary arguments as binary", async () => {
      const socket = await open();
      const bytes = new Uint8Array([1, 2, 3]);
      const [echoed, nested] = await ack(socket, "echo", bytes, { inner: [Buffer.from([4])] });
      assert.deepEqual(new Uint8Array(echoed), bytes);
      assert.deepEqual(nested, { inner: [Buffer.from([4])] });
    });

    test("1,000 back-to-back join + chat pairs are handled in order", async () => {
      const [sender, peer] = [await open(), await open()];
      await ack(peer, "join", "r0");
      const pairs = 1000;
      // The chat rate limit (20/s, bursts of 40) answers most chats `rate_limited`; in order, none
      // can be `not_in_room`, which a chat handled before its join would get.
      const replies = [];
      for (let n = 0; n < pairs; n += 1) {
        replies.push(ack(sender, "join", `r${n % 5}`));
        replies.push(ack(sender, "chat", { room: `r${n % 5}`, text: `m${n}` }));
      }
      const answers = (await Promise.all(replies)).map(([reply]) => reply);
      const joins = answers.filter((_, i) => i % 2 === 0);
      const chats = answers.filter((_, i) => i % 2 === 1);
      assert.ok(joins.every((reply) => reply.ok), "every join succeeds");
      assert.deepEqual(chats.filter((reply) => !reply.ok && reply.error !== "rate_limited"), []);
      assert.ok(chats.filter((reply) => reply.ok).length >= 40, "the burst got through");
    });

    test("1,000 requests at once get 1,000 acks, in order", async () => {
      const socket = await open();
      const order = [];
      const replies = [];
      for (let n = 0; n < 1000; n += 1) {
        replies.push(ack(socket, "echo", n).then(([echoed]) => order.push(echoed)));
      }
      await Promise.all(replies);
      assert.deepEqual(order, [...Array(1000).keys()], "acks come back in the order sent");
    });

    test("a publisher's burst of direct emits arrives in order", async () => {
      const publisher = await open({ auth: { token: TOKEN } });
      const receiver = await open();
      const got = [];
      const all = new Promise((resolve) => {
        receiver.on("seq", (n) => {
          got.push(n);
          if (got.length === 200) resolve();
        });
      });
      for (let n = 0; n < 200; n += 1) publisher.emit("seq", n);
      await all;
      assert.deepEqual(got, [...Array(200).keys()]);
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
      assert.deepEqual(await received, ["bar"], "exactly the published data");
    });

    test("a dynamic namespace works like /", async () => {
      const a = await open({ namespace: "/orders" });
      const b = await open({ namespace: "/orders" });
      const [joined] = await ack(a, "join", "r");
      const epoch = epochOf(joined);
      assert.deepEqual(await ack(b, "join", "r"), [{ ok: true, room: "r", members: 2, offset: 0, epoch }]);
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
