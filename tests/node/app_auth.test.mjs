// Sign-in through the application (`--auth-url`) with the official socket.io-client: the page's session
// cookie (sent here with `extraHeaders`, as a browser sends it with `withCredentials`) is all it needs.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import { ack, connect, startHub } from "./harness.mjs";

/** A tiny application: `session=alice` may join `lobby` only; any other cookie is refused. */
async function startApp() {
  const requests = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const asked = JSON.parse(body);
      requests.push(asked);
      const session = /(?:^|;\s*)session=([^;]*)/.exec(asked.headers.cookie ?? "")?.[1];
      const [status, answer] =
        session === "alice"
          ? [200, { user: "alice", rooms: ["lobby"], info: { avatar: "alice.png" } }]
          : [401, { message: "please sign in at /login" }];
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(answer));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${server.address().port}/hub/sign-in`;
  return { url, requests, close: () => server.close() };
}

for (const transports of [["websocket"], ["polling"]]) {
  describe(`sign-in through the app over ${transports[0]}`, () => {
    let app;
    let hub;
    const sockets = [];

    before(async () => {
      app = await startApp();
      hub = await startHub({ env: { HUB_AUTH_URL: app.url } });
    });
    after(async () => {
      sockets.forEach((s) => s.close());
      assert.equal(await hub.stop(), 0, "the hub exits 0 on SIGTERM");
      app.close();
    });

    test("the session cookie signs alice in, with only her rooms", async () => {
      const alice = await connect(hub.url, { transports, extraHeaders: { cookie: "session=alice" } });
      sockets.push(alice);
      const asked = app.requests.at(-1);
      assert.equal(asked.namespace, "/");
      assert.equal(asked.headers.cookie, "session=alice");
      assert.deepEqual(asked.auth, {});
      assert.equal((await ack(alice, "join", "lobby"))[0].ok, true);
      const [refused] = await ack(alice, "join", "staff");
      assert.deepEqual(refused, { ok: false, error: "forbidden", message: 'your sign-in does not allow room "staff"' });
    });

    test("the app's refusal is the connect_error message", async () => {
      for (const extraHeaders of [{ cookie: "session=mallory" }, undefined]) {
        await assert.rejects(connect(hub.url, { transports, extraHeaders }), (err) => {
          assert.equal(err.message, "please sign in at /login");
          return true;
        });
      }
    });
  });
}
