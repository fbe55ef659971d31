// The official Socket.IO Admin UI that the hub serves at /admin/, in real Chromium against the real hub
// with --admin-password: signed in through the UI's own form, it shows the demo page's and Node clients'
// sockets and rooms, and its joins and disconnects reach the clients (none with --admin-read-only).
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { AdminUi, DemoPage, launchBrowser, screenshot } from "./browser.mjs";
import { io } from "socket.io-client";
import { ack, connect, nextEvent, startHub } from "./harness.mjs";

const PASSWORD = "admin-ui-test-password";

let browser;
let hub;
const opened = [];
const sockets = [];

before(async () => {
  browser = await launchBrowser();
  hub = await startHub({ flags: ["--admin-password", PASSWORD] });
});
after(async () => {
  sockets.forEach((socket) => socket.close());
  await browser.close();
  assert.equal(await hub.stop(), 0);
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((page) => page.close()));
});

async function adminUi() {
  const ui = await AdminUi.open(browser, hub.url);
  opened.push(ui);
  return ui;
}

/**
 * The id the UI shows for each user's socket, by user: a keyed hash of the socket's real id (which is
 * its session's credential), read from the UI's own protocol as the UI reads it.
 */
async function shownIds(url) {
  const auth = { username: "admin", password: PASSWORD };
  const admin = io(url + "/admin", { auth, reconnection: false, forceNew: true });
  const [all] = await nextEvent(admin, "all_sockets");
  admin.close();
  return Object.fromEntries(all.map((socket) => [socket.data.user, socket.id]));
}

/** An official Node client of the hub's `/` namespace, signed in as `user`. */
async function client(user) {
  const socket = await connect(hub.url, { auth: { user } });
  sockets.push(socket);
  return socket;
}

/** Asserts the UI loaded nothing from elsewhere and had no error, nothing blocked by the CSP. */
function assertClean(ui) {
  assert.deepEqual(ui.otherOrigins, [], "no request leaves the hub's origin");
  assert.deepEqual(ui.failures, []);
  assert.deepEqual(ui.errors, [], "no script error, nothing blocked by the Content-Security-Policy");
}

describe("the admin UI", () => {
  test("loads everything from the hub, icon font included, and asks to sign in to this hub", async () => {
    const ui = await adminUi();
    const modal = await ui.modal();
    assert.equal(await modal.getByLabel("Server URL").inputValue(), hub.url, "pre-filled with this hub");
    assert.equal(await modal.getByLabel("Username").inputValue(), "");
    // The UI tried this hub at once, with no credentials: the form says to sign in, not that it failed.
    await modal.getByText("sign in with the Admin UI's user name and password").waitFor();
    assert.equal(await modal.getByText("Invalid credentials").count(), 0);
    assert.ok(await ui.iconFontInUse(), "the embedded icon font is loaded and used");
    assert.deepEqual(ui.fontResponses, [200], "the icon font comes from the hub, once");
    await screenshot(ui.page, "admin-ui-sign-in");
    assertClean(ui);
  });

  test("a wrong password is refused in the sign-in form", async () => {
    const ui = await adminUi();
    const modal = await ui.submitSignIn("admin", "not-the-password");
    await modal.getByText("Invalid credentials").waitFor();
    assertClean(ui);
  });

  test("shows the sockets and rooms; joins a socket to a room and disconnects another", async () => {
    const demo = await DemoPage.open(browser, hub.url);
    opened.push(demo);
    await demo.connect("dora");
    await demo.join("lobby");
    const carol = await client("carol");
    await ack(carol, "join", "lobby");
    const mallory = await client("mallory");

    const shown = await shownIds(hub.url);
    assert.ok(!Object.values(shown).includes(carol.id), "the UI never sees a socket's real id");

    const ui = await adminUi();
    await ui.signIn("admin", PASSWORD);
    await ui.show("Sockets");
    for (const user of ["carol", "mallory"]) await ui.row(shown[user]).waitFor();
    assert.equal(await ui.page.locator(".v-data-table tbody tr").count(), 3, "dora's, carol's and mallory's");
    await screenshot(ui.page, "admin-ui-sockets");

    await ui.show("Rooms");
    const lobby = ui.row("lobby");
    await lobby.waitFor();
    assert.match(await lobby.innerText(), /\b2\b/, "dora and carol are in lobby");

    // Socket page -> rooms -> join: carol's own `who` then answers for the room.
    await ui.show("Sockets");
    await ui.row(shown.carol).click();
    const rooms = ui.page.locator(".v-card", { has: ui.page.getByText("Rooms", { exact: true }) });
    await rooms.getByLabel("Join a room").fill("vip");
    await rooms.locator("button", { has: ui.page.locator(".mdi-tag-plus-outline") }).click();
    await ui.row("vip", rooms).waitFor();
    await screenshot(ui.page, "admin-ui-socket");
    const [who] = await ack(carol, "who", "vip");
    assert.equal(who.ok, true, JSON.stringify(who));
    assert.deepEqual(who.users.map((u) => u.user), ["carol"]);

    // Sockets -> disconnect: mallory is disconnected by the server, and gone from the list.
    const malloryId = shown.mallory;
    const disconnected = nextEvent(mallory, "disconnect", 5000);
    await ui.show("Sockets");
    await ui.row(malloryId).locator("button", { has: ui.page.locator(".mdi-logout") }).click();
    const [reason] = await disconnected;
    assert.equal(reason, "io server disconnect");
    await ui.show("Sockets");
    await ui.row(malloryId).waitFor({ state: "detached" });

    await ui.show("Dashboard");
    await screenshot(ui.page, "admin-ui-dashboard");
    assertClean(ui);
    assert.deepEqual(demo.errors, []);
  });
});

describe("the admin UI of a read-only hub", () => {
  let readOnly;
  before(async () => {
    readOnly = await startHub({ flags: ["--admin-password", PASSWORD, "--admin-read-only"] });
  });
  after(async () => {
    assert.equal(await readOnly.stop(), 0);
  });

  test("offers no disconnect, and its joins change nothing", async () => {
    const dave = await connect(readOnly.url, { auth: { user: "dave" } });
    sockets.push(dave);
    const ui = await AdminUi.open(browser, readOnly.url);
    opened.push(ui);
    await ui.signIn("admin", PASSWORD);
    await ui.show("Sockets");
    const row = ui.row((await shownIds(readOnly.url)).dave);
    await row.waitFor();
    assert.equal(await row.locator("button").count(), 0, "no disconnect button");

    // The UI still shows its join form (it only looks at its own read-only switch); the hub refuses.
    await row.click();
    const rooms = ui.page.locator(".v-card", { has: ui.page.getByText("Rooms", { exact: true }) });
    await rooms.getByLabel("Join a room").fill("vip");
    await rooms.locator("button", { has: ui.page.locator(".mdi-tag-plus-outline") }).click();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const [who] = await ack(dave, "who", "vip");
    assert.equal(who.error, "not_in_room", JSON.stringify(who));
    assertClean(ui);
  });
});
