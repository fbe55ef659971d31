// A slow consumer as the official socket.io-client sees it: a client that cannot read while a publisher
// floods its room gets what was queued for it, in order, then `slow_consumer`, then a `disconnect` with
// the reason "io server disconnect" (PROTOCOL.md, "Slow consumers").
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { TOKEN, ack, binary, connect, nextEvent, startHub } from "./harness.mjs";

// Events published while the client cannot read, and their padding: over polling they wait in its send
// queue (4,096 packets plus --history-size) alone; a websocket first fills the kernel's socket buffers (4 MiB on loopback,
// about 1,000 of these events).
const flood = { polling: { events: 5_000, pad: 64 }, websocket: { events: 7_000, pad: 4096 } };

for (const [mode, { events, pad }] of Object.entries(flood)) {
  describe(`over ${mode}`, () => {
    let hub;
    before(async () => {
      // This process reads the hub's log, and does not while `publish` runs: a line per published event
      // would fill the pipe and stall the hub. Its start line and warnings are enough here.
      hub = await startHub({ env: { RUST_LOG: "warn,hub::server=info" } });
    });
    after(async () => {
      assert.equal(await hub.stop(), 0);
    });

    test("a client that cannot keep up is told, then disconnected", async () => {
      const socket = await connect(hub.url, { transports: [mode] });
      await ack(socket, "join", "room");
      const seen = [];
      socket.onAny((event, ...args) => {
        if (event !== "members" && event !== "presence") seen.push(event === "bulk" ? args[0][0] : event);
      });
      const disconnected = nextEvent(socket, "disconnect", 30_000);

      // `publish` runs while this process waits for it, so the client reads nothing meanwhile.
      const lines = [...Array(events).keys()].map((n) =>
        JSON.stringify({ event: "bulk", data: [n, "z".repeat(pad)], rooms: ["room"] }),
      );
      const publish = spawnSync(
        binary("publish"),
        ["--url", hub.url, "--token", TOKEN, "--stdin-lines", "--quiet"],
        { input: lines.join("\n") + "\n", timeout: 60_000 },
      );
      assert.equal(publish.status, 0, publish.stderr?.toString());

      const [reason] = await disconnected;
      assert.equal(reason, "io server disconnect");
      const notice = seen.pop();
      assert.equal(notice, "slow_consumer", `the notice comes last: ${seen.slice(-3)}, ${notice}`);
      assert.ok(seen.length < events, `${seen.length} of ${events} events were queued`);
      assert.deepEqual(seen, [...Array(seen.length).keys()], "what was queued, in order");
      assert.match(hub.log(), /slow consumer disconnected/);
    });
  });
}
