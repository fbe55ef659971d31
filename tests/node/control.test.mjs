// `who` and the application's disconnect with the official socket.io-client: the reason arrives before
// the disconnect, which the client sees as the server's own ("io server disconnect": no reconnection).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TOKEN, ack, connect, nextEvent, startHub } from "./harness.mjs";

const transportModes = { websocket: ["websocket"], polling: ["polling"] };

for (const [mode, transports] of Object.entries(transportModes)) {
  describe(`over ${mode}`, () => {
    let hub;
    const sockets = [];
    const open = async (user) => {
      const socket = await connect(hub.url, { transports, auth: { user } });
      sockets.push(socket);
      return socket;
    };
    const api = async (path, body) => {
      const response = await fetch(hub.url + path, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return [response.status, await response.json()];
    };

    before(async () => {
      hub = await startHub();
    });
    after(async () => {
      sockets.forEach((s) => s.close());
      assert.equal(await hub.stop(), 0, "the hub exits 0 on SIGTERM");
    });

    test("who counts a user's tabs as one user", async () => {
      const [tab, otherTab, bob] = [await open("alice"), await open("alice"), await open("bob")];
      for (const socket of [bob, tab, otherTab]) await ack(socket, "join", "r");
      assert.deepEqual(await ack(bob, "who", "r"), [{
        ok: true,
        room: "r",
        members: 3,
        users: [{ user: "alice", info: null, sockets: 2 }, { user: "bob", info: null, sockets: 1 }],
      }]);
      const [refused] = await ack(await open("carol"), "who", "r");
      assert.equal(refused.error, "not_in_room");
    });

    test("a disconnected socket gets `kicked` with the reason, then the disconnect", async () => {
      const mallory = await open("mallory");
      const seen = [];
      mallory.on("kicked", (notice) => seen.push(["kicked", notice]));
      const disconnected = nextEvent(mallory, "disconnect");
      mallory.on("disconnect", (reason) => seen.push(["disconnect", reason]));
      assert.deepEqual(await api("/api/disconnect", { user: "mallory", reason: "spam" }), [
        200,
        { ok: true, disconnected: 1 },
      ]);
      await disconnected;
      assert.deepEqual(seen, [["kicked", { reason: "spam" }], ["disconnect", "io server disconnect"]]);
    });
  });
}
