// The Admin UI's protocol with the official socket.io-client, as the UI itself uses it: login over
// each transport, a polling client's upgrade reported, and an operation at the protocol level (`emit`,
// which the official UI does not implement).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { io } from "socket.io-client";
import { ack, connect, nextEvent, startHub } from "./harness.mjs";

const PASSWORD = "an admin password for node tests";
const login = { username: "admin", password: PASSWORD };

/** Resolves with the arguments of the next `event` whose arguments satisfy `match`. */
function nextMatching(socket, event, match, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no matching ${event} within ${ms} ms`)), ms);
    const listener = (...args) => {
      if (!match(...args)) return;
      clearTimeout(timer);
      socket.off(event, listener);
      resolve(args);
    };
    socket.on(event, listener);
  });
}

/**
 * Opens the UI's namespace as the UI does, listening from the start (the first events may come in the
 * same packet as the CONNECT reply); resolves with the socket, the session id it was given (if any),
 * its config and its `all_sockets` list.
 */
function openUi(url, { auth = login, transports } = {}) {
  const ui = io(url + "/admin", { auth, transports, reconnection: false, forceNew: true });
  // A session id comes only with a login by password (a reload's session ends a day after that login).
  let session = null;
  ui.once("session", (id) => (session = id));
  const first = Promise.all(["config", "all_sockets"].map((event) => nextEvent(ui, event)));
  return new Promise((resolve, reject) => {
    ui.once("connect_error", (err) => {
      ui.close();
      reject(err);
    });
    first.then(([[config], [all]]) => resolve({ ui, session, config, all }), reject);
  });
}

describe("the Admin UI's namespace", () => {
  let hub;
  const sockets = [];
  const open = async (...args) => {
    const socket = await connect(...args);
    sockets.push(socket);
    return socket;
  };

  before(async () => {
    hub = await startHub({ env: { HUB_ADMIN_PASSWORD: PASSWORD } });
  });
  after(async () => {
    sockets.forEach((s) => s.close());
    assert.equal(await hub.stop(), 0);
  });

  for (const transports of [["polling"], ["websocket"]]) {
    test(`signs in over ${transports[0]} and gets the session, config and every socket`, async () => {
      const { ui, session, config, all } = await openUi(hub.url, { transports });
      sockets.push(ui);
      assert.match(session, /^[0-9a-f]{48}$/);
      assert.ok(config.supportedFeatures.includes("ALL_EVENTS"), JSON.stringify(config));
      assert.ok(Array.isArray(all));
      const reloaded = await openUi(hub.url, { auth: { sessionId: session }, transports });
      sockets.push(reloaded.ui);
      assert.equal(reloaded.session, null, "a reload is given no new session id");
      await assert.rejects(openUi(hub.url, { auth: { ...login, password: "wrong" }, transports }), {
        message: "invalid credentials",
      });
    });
  }

  test("a polling client's upgrade to websocket is reported", async () => {
    const { ui } = await openUi(hub.url);
    sockets.push(ui);
    const connected = nextMatching(ui, "socket_connected", (socket) => socket.data.user === "poller");
    const client = await open(hub.url, { auth: { user: "poller" }, transports: ["polling", "websocket"] });
    const [socket] = await connected;
    assert.equal(socket.transport, "polling");
    const [update] = await nextMatching(ui, "socket_updated", (update) => update.id === socket.id, 6000);
    assert.deepEqual(update, { id: socket.id, nsp: "/", transport: "websocket" });
    assert.equal(client.io.engine.transport.name, "websocket");
  });

  test("emit reaches exactly the sockets named, with exactly the arguments", async () => {
    const { ui } = await openUi(hub.url);
    sockets.push(ui);
    const connected = nextMatching(ui, "socket_connected", (socket) => socket.data.user === "carol");
    const carol = await open(hub.url, { auth: { user: "carol" } });
    const [shown] = await connected;
    const news = nextEvent(carol, "news");
    assert.deepEqual(await ack(ui, "emit", "/", shown.id, "news", { n: 1 }, "two"), [{ ok: true, sockets: 1 }]);
    assert.deepEqual(await news, [{ n: 1 }, "two"]);
    // The UI itself asks for no ack: the operation is carried out all the same.
    const again = nextEvent(carol, "news");
    ui.emit("emit", "/", shown.id, "news", 3);
    assert.deepEqual(await again, [3]);
  });
});
