// The demo page in real Chromium against the real `hub` binary, with the real `publish` CLI.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { DemoPage, launchBrowser, screenshot } from "./browser.mjs";
import { TOKEN, ack, binary, connect, startHub } from "./harness.mjs";

const run = promisify(execFile);
const XSS = `<img src=x onerror="window.__xss = 'img'"><script>window.__xss = 'script'</script>`;

let browser;
let runtimeDir;
const pages = [];

/** Opens the demo as a new person; closed after the test. */
async function person(url, options) {
  const page = await DemoPage.open(browser, url, options);
  pages.push(page);
  return page;
}

/** Runs the real `publish` with the hub's generated token, found in the token file as a user would. */
function publish(args) {
  return run(binary("publish"), args, { env: { ...process.env, XDG_RUNTIME_DIR: runtimeDir } });
}

/** Splits the command the page shows into arguments (it quotes only what a shell needs quoted). */
function argumentsOf(command) {
  const words = command.match(/'[^']*'|\S+/g).map((w) => w.replace(/^'(.*)'$/, "$1"));
  assert.equal(words.shift(), "publish");
  return words;
}

before(async () => {
  browser = await launchBrowser();
  runtimeDir = await mkdtemp(path.join(os.tmpdir(), "hub-demo-test-"));
});
after(async () => {
  await browser.close();
  await rm(runtimeDir, { recursive: true, force: true });
});
/** Closes every open page, once it is sure none of them had a script error. */
async function closePages(t) {
  for (const page of pages) {
    assert.deepEqual(page.errors, [], "no script errors on the page");
    for (const note of page.transportNotes) t?.diagnostic?.(`recovered: ${note}`);
  }
  await Promise.all(pages.splice(0).map((page) => page.close()));
}
afterEach((t) => closePages(t));

describe("the demo page", () => {
  let hub;
  before(async () => {
    hub = await startHub({ token: null, env: { XDG_RUNTIME_DIR: runtimeDir } });
  });
  after(async () => {
    assert.equal(await hub.stop(), 0);
  });

  test("two pages in lobby chat both ways; a page in another room sees none of it", async (t) => {
    const alice = await person(hub.url);
    const bob = await person(hub.url);
    const carol = await person(hub.url);
    await alice.connect("alice");
    await bob.connect("bob");
    await carol.connect("carol");
    await alice.join("lobby");
    await bob.join("lobby");
    await carol.join("other");

    await alice.say("hi bob");
    await bob.received("hi bob");
    await bob.say("hello alice");
    await alice.received("hello alice");

    assert.deepEqual(await alice.messages("mine"), ["hi bob"]);
    assert.deepEqual(await alice.messages("theirs"), ["hello alice"]);
    assert.deepEqual(await bob.messages("theirs"), ["hi bob"]);
    const sender = await bob.page.locator("#log .msg.theirs .msg-user").first().textContent();
    assert.equal(sender, "alice", "others' messages show their name");
    assert.match(await bob.page.locator("#log .msg.theirs time").first().textContent(), /\d{1,2}:\d{2}/);
    assert.equal(await alice.page.locator("#log .msg.mine").getAttribute("data-state"), "sent");

    // Member counts follow joins on the other page (the hub's `members` event).
    await alice.page.locator("#rooms .members", { hasText: "2 members" }).waitFor();
    assert.equal(await bob.membersOf("lobby"), "2 members");
    assert.equal(await carol.membersOf("other"), "1 member");
    assert.deepEqual(await carol.messages("theirs"), [], "nothing from lobby reaches other");
    await screenshot(alice.page, "chat-alice");
    await screenshot(carol.page, "chat-carol-elsewhere");
    t.diagnostic("screenshots: tests/screenshots/chat-alice.png, chat-carol-elsewhere.png");
  });

  test("the page's publish command reaches both lobby pages within a second, not the third", async () => {
    const [a, b, outsider] = [await person(hub.url), await person(hub.url), await person(hub.url)];
    for (const [page, name] of [[a, "ann"], [b, "ben"], [outsider, "oz"]]) await page.connect(name);
    await a.join("lobby");
    await b.join("lobby");
    await outsider.join("other");

    const command = await a.page.textContent("#publish-cmd");
    assert.equal(command, `publish --url ${hub.url} --event foo --data bar --room lobby`);
    const { stdout } = await publish(argumentsOf(command));
    assert.equal(stdout, "delivered to 2\n");
    for (const page of [a, b]) {
      await page.page.locator("#events .event").first().waitFor({ timeout: 1000 });
      assert.deepEqual(await page.events(), [{ event: "foo", route: "room lobby", data: "bar" }]);
    }

    const order = { id: 42, items: ["tea", "cake"], paid: true };
    await publish(["--url", hub.url, "--event", "order", "--json", JSON.stringify(order), "--room", "lobby"]);
    await a.page.locator("#events .event-name", { hasText: "order" }).waitFor({ timeout: 1000 });
    const [newest] = await a.events();
    assert.deepEqual(newest, { event: "order", route: "room lobby", data: JSON.stringify(order, null, 2) });

    // A namespace-wide publish reaches the outsider too, labelled as such.
    await publish(["--url", hub.url, "--event", "news", "--data", "for everyone"]);
    await outsider.page.locator("#events .event-name", { hasText: "news" }).waitFor({ timeout: 1000 });
    const news = { event: "news", route: "namespace /", data: "for everyone" };
    assert.deepEqual(await outsider.events(), [news]);
    assert.equal(await outsider.page.textContent("#feed-count"), "1 event", "foo and order never reached it");
    await screenshot(a.page, "published-events");
  });

  test("markup in a chat message or a published event is shown as text and runs nothing", async () => {
    const [mallory, victim] = [await person(hub.url), await person(hub.url)];
    await mallory.connect("<b>mallory</b>");
    await victim.connect("victim");
    await mallory.join("xss");
    await victim.join("xss");
    await mallory.say(XSS);
    await victim.received(XSS);
    await publish(["--url", hub.url, "--event", "<svg onload=alert(1)>", "--data", XSS, "--room", "xss"]);
    await victim.page.locator("#events .event").first().waitFor();

    for (const page of [mallory, victim]) {
      assert.equal(await page.page.evaluate(() => window.__xss), undefined, "no injected script ran");
      assert.equal(await page.page.locator("#log img, #log script, #events img, #events svg").count(), 0);
    }
    assert.equal(await victim.page.locator("#log .msg-user").last().textContent(), "<b>mallory</b>");
    const published = { event: "<svg onload=alert(1)>", route: "room xss", data: XSS };
    assert.deepEqual(await victim.events(), [published]);
    await screenshot(victim.page, "markup-as-text");

    // The same from the room's history, for a page that joins later.
    const late = await person(hub.url);
    await late.connect("late");
    await late.join("xss");
    assert.deepEqual(await late.messages("theirs"), [XSS]);
    assert.deepEqual(await late.events(), [published]);
    assert.equal(await late.page.evaluate(() => window.__xss), undefined, "no injected script ran");
    assert.equal(await late.page.locator("#log img, #log script, #events img, #events svg").count(), 0);
  });

  test("refused requests are explained inline and the message is marked as not sent", async () => {
    const page = await person(hub.url);
    await page.connect("erin");
    await page.join("lobby");
    // The hub forgets the membership behind the page's back (as after a hub restart without rejoin).
    await page.page.evaluate(() => state.socket.emitWithAck("leave", "lobby"));
    await page.say("anyone here?");
    await page.page.locator("#log .msg.mine[data-state=failed]").waitFor();
    assert.equal(
      await page.page.textContent("#chat-error"),
      'You are no longer in "lobby". Join it again to send messages there.',
    );

    await page.join("lobby");
    await page.say("back again");
    await page.page.locator("#log .msg.mine[data-state=sent]").waitFor();

    await page.page.fill("#room", "r".repeat(129));
    await page.page.press("#room", "Enter");
    await page.page.locator("#rooms-error", { hasText: "could not accept" }).waitFor();
    assert.equal(
      await page.page.textContent("#rooms-error"),
      "The hub could not accept that: room name must be 1 to 128 characters, got 129.",
    );
    await screenshot(page.page, "inline-errors");
  });

  test("the echo button measures the round trip", async () => {
    const page = await person(hub.url);
    await page.connect("tim");
    await page.page.focus("#echo-button");
    await page.page.keyboard.press("Enter");
    await page.page.locator("#echo-result", { hasText: " ms" }).waitFor();
    const ms = Number.parseFloat(await page.page.textContent("#echo-result"));
    assert.ok(ms >= 0 && ms < 1000, `round trip ${ms} ms`);
    await screenshot(page.page, "echo");
  });

  test("the badge shows the transport, a returning visitor reconnects, a bad name is refused", async () => {
    const page = await person(hub.url);
    assert.equal(await page.page.textContent("#status-text"), "disconnected");
    await page.connect("ok name");
    await page.page.reload();
    await page.statusIs(/^connected · websocket$/);
    assert.equal(await page.page.textContent("#identity"), "Connected as ok name.", "a returning visitor");
    await page.page.fill("#name", "x".repeat(65));
    await page.page.press("#name", "Enter");
    await page.statusIs(/^disconnected$/);
    const error = await page.page.textContent("#connect-error");
    assert.match(error, /^The hub refused the connection: invalid user: /);
    await screenshot(page.page, "refused-name");
  });

  test("desktop and phone layouts fit their screens", async (t) => {
    for (const [name, viewport] of [
      ["desktop", { width: 1366, height: 820 }],
      ["phone", { width: 390, height: 844 }],
    ]) {
      const page = await person(hub.url, { viewport });
      const other = await person(hub.url, { viewport });
      await page.connect("dana");
      await other.connect("sam");
      await page.join("lobby");
      await other.join("lobby");
      await page.join("design");
      await page.page.locator("#rooms .room-open", { hasText: "lobby" }).click();
      await other.say("Has anyone tried the publish CLI yet?");
      await page.received("Has anyone tried the publish CLI yet?");
      await page.say("Yes, try it: the command is on the right.");
      await publish(["--url", hub.url, "--event", "deploy", "--json", '{"service":"api","version":"1.4.2"}']);
      await publish(["--url", hub.url, "--event", "foo", "--data", "bar", "--room", "lobby"]);
      await page.page.locator("#events .event-name", { hasText: "deploy" }).waitFor();
      await page.page.locator("#echo-button").click();
      await page.page.locator("#echo-result", { hasText: " ms" }).waitFor();
      await page.page.locator("#chat-meta", { hasText: "2 members" }).waitFor();

      const overflow = await page.page.evaluate(
        () => document.documentElement.scrollWidth - window.innerWidth,
      );
      assert.ok(overflow <= 0, `${name}: the page scrolls sideways by ${overflow}px`);
      for (const selector of ["#status", "#rooms", "#text", "#send-button", "#events"]) {
        assert.ok(await page.page.locator(selector).isVisible(), `${name}: ${selector} is visible`);
      }
      await screenshot(page.page, `layout-${name}`);
      await closePages(t);
    }
  });
});

describe("history", () => {
  let hub;
  const sockets = [];
  before(async () => {
    // 60 chats in a row are over the default chat rate.
    hub = await startHub({ env: { HUB_RATE_LIMIT: "1000", HUB_RATE_BURST: "1000" } });
  });
  after(async () => {
    assert.equal(await hub.stop(), 0);
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  /** A socket.io client in Node: a chat partner, or (with the token) a publisher. */
  async function client(auth) {
    const socket = await connect(hub.url, { auth });
    sockets.push(socket);
    return socket;
  }

  /** Sends `event` and asserts that the hub accepted it. */
  async function accepted(socket, event, ...args) {
    const [reply] = await ack(socket, event, ...args);
    assert.equal(reply.ok, true, `${event} refused: ${JSON.stringify(reply)}`);
    return reply;
  }

  test("joining a room shows its last 50 messages, oldest first, then the live ones once", async () => {
    const sam = await client({ user: "sam" });
    await accepted(sam, "join", "archive");
    for (let i = 1; i <= 60; i++) await accepted(sam, "chat", { room: "archive", text: `message ${i}` });

    const page = await person(hub.url);
    await page.connect("pat");
    await page.join("archive");
    const last50 = Array.from({ length: 50 }, (_, i) => `message ${i + 11}`);
    assert.deepEqual(await page.messages("theirs"), last50);
    assert.deepEqual(await page.messages("system"), ["You joined archive: 50 earlier messages above."]);
    assert.equal(await page.page.locator("#log .msg.theirs .msg-user").first().textContent(), "sam");

    await accepted(sam, "chat", { room: "archive", text: "message 61" });
    await page.received("message 61");
    await page.say("hello sam");
    await page.page.locator("#log .msg.mine[data-state=sent]").waitFor();
    assert.deepEqual(await page.messages("theirs"), [...last50, "message 61"]);
    assert.deepEqual(await page.messages("mine"), ["hello sam"]);
    await screenshot(page.page, "history-on-join");
  });

  test("a page that was offline shows every chat and event it missed, once and in order", async () => {
    const page = await person(hub.url);
    await page.connect("pat");
    await page.join("train");
    const bob = await client({ user: "bob" });
    await accepted(bob, "join", "train");
    const publisher = await client({ token: TOKEN });
    const publish = (data, rooms) => accepted(publisher, "publish", { event: "delay", data, rooms });

    await accepted(bob, "chat", { room: "train", text: "leaving the station" });
    await publish("on time", ["train"]);
    await publish("service update 0", []);
    await page.page.locator("#events .event").nth(1).waitFor();
    // The page's own message is the last thing it sees: the ack says where it was recorded, so the
    // replay does not bring it back as someone else's.
    await page.say("entering the tunnel");
    await page.page.locator("#log .msg.mine[data-state=sent]").waitFor();

    const sid = await page.page.evaluate(() => state.socket.id);
    const context = page.page.context();
    await context.setOffline(true);
    await page.statusIs(/^reconnecting$/);
    // Offline mode closes the websocket and the hub sees the socket go: what follows is only recorded.
    await waitFor(() => hub.log().includes(`socket disconnected sid=${sid} `), "the hub to see the page go");
    const chats = [];
    const delays = [];
    for (let i = 1; i <= 30; i++) {
      if (i % 3 === 0) {
        delays.push(`delay ${i}`);
        await publish(`delay ${i}`, ["train"]);
      } else {
        chats.push(`chat ${i}`);
        await accepted(bob, "chat", { room: "train", text: `chat ${i}` });
      }
    }
    const updates = ["service update 1", "service update 2", "service update 3"];
    for (const update of updates) await publish(update, []);
    // Offline long enough for the page to have tried to reconnect, and failed.
    await page.page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          state.socket.io.once("reconnect_error", resolve);
          setTimeout(() => reject(new Error("no reconnect attempt within 10 s")), 10_000);
        }),
    );
    await screenshot(page.page, "offline");
    await context.setOffline(false);

    await page.statusIs(/^connected · websocket$/, 15_000);
    const recovered = "Reconnected: 30 missed messages recovered.";
    await page.page.locator("#log .msg.system", { hasText: recovered }).waitFor({ timeout: 10_000 });
    assert.deepEqual(await page.messages("theirs"), ["leaving the station", ...chats]);
    assert.deepEqual(await page.messages("mine"), ["entering the tunnel"]);
    assert.deepEqual(await page.messages("system"), ["You joined train.", recovered]);
    const feed = (await page.events()).reverse();
    const through = (route) => feed.filter((e) => e.route === route).map((e) => e.data);
    assert.deepEqual(through("room train"), ["on time", ...delays]);
    assert.deepEqual(through("namespace /"), ["service update 0", ...updates]);
    assert.equal(feed.length, 1 + delays.length + 1 + updates.length, "each event once");
    assert.deepEqual(await page.feedNotes(), ["Reconnected: 3 missed namespace events recovered."]);

    // Live again, and still once each.
    await accepted(bob, "chat", { room: "train", text: "out of the tunnel" });
    await page.received("out of the tunnel");
    const theirs = ["leaving the station", ...chats, "out of the tunnel"];
    assert.deepEqual(await page.messages("theirs"), theirs);
    await screenshot(page.page, "recovered");

    // Should an event ever arrive twice, the page shows it once: it goes by the offsets it has seen.
    await page.page.evaluate(() => {
      const { offset, epoch } = state.rooms.get("train").seen;
      onChat({ room: "train", text: "again", user: "bob", ts: Date.now(), offset, epoch });
      onPublished("delay", "again", { namespace: "/", room: "train", offset: offset - 1, epoch });
      onPublished("delay", "again", { namespace: "/", ...state.namespace.seen });
    });
    assert.deepEqual(await page.messages("theirs"), theirs);
    assert.equal((await page.events()).length, feed.length);
  });
});

/** Polls `condition` every 20 ms until it holds; fails after `ms`. */
async function waitFor(condition, what, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("after the hub restarts", () => {
  test("the pages reconnect by themselves, rejoin their rooms and chat again", async () => {
    let hub = await startHub({ token: null, env: { XDG_RUNTIME_DIR: runtimeDir } });
    const bind = new URL(hub.url).host;
    try {
      const [a, b] = [await person(hub.url), await person(hub.url)];
      await a.connect("ada");
      await b.connect("bo");
      await a.join("lobby");
      await b.join("lobby");
      await a.say("before the restart");
      await b.received("before the restart");

      assert.equal(await hub.stop(), 0);
      await a.statusIs(/^reconnecting$/);
      await b.statusIs(/^reconnecting$/);
      await screenshot(a.page, "restart-reconnecting");
      hub = await startHub({ bind, token: null, env: { XDG_RUNTIME_DIR: runtimeDir } });

      await a.statusIs(/^connected · websocket$/, 15_000);
      await b.statusIs(/^connected · websocket$/, 15_000);
      await a.page.locator("#rooms .members", { hasText: "2 members" }).waitFor();
      await b.say("after the restart");
      await a.received("after the restart");
      await a.say("welcome back");
      await b.received("welcome back");
      // The new hub's history starts anew: the pages say that they may have missed something.
      for (const page of [a, b]) {
        const notes = await page.messages("system");
        assert.equal(notes.at(-1), "Reconnected: some messages may be missing (history lost).");
        assert.deepEqual(await page.feedNotes(), [
          "Reconnected: some namespace events may be missing (history lost).",
        ]);
      }
      await screenshot(a.page, "restart-reconnected");
    } finally {
      await hub.stop();
    }
  });
});
