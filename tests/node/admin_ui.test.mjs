// The official Socket.IO Admin UI that the hub serves at /admin/, in real Chromium against the real hub.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { AdminUi, launchBrowser, screenshot } from "./browser.mjs";
import { startHub } from "./harness.mjs";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(() => browser.close());

describe("the admin UI page", () => {
  let hub;
  before(async () => {
    // A hub whose `/admin` namespace refuses the UI's first try, as a hub with an admin password does
    // to a browser that has not signed in yet.
    hub = await startHub({ flags: ["--jwt-secret", "admin-ui-test-jwt-secret"] });
  });
  after(async () => {
    assert.equal(await hub.stop(), 0);
  });

  test("loads everything from the hub, icon font included, and asks to sign in to this hub", async () => {
    const ui = await AdminUi.open(browser, hub.url);
    const modal = await ui.modal();
    assert.equal(await modal.getByLabel("Server URL").inputValue(), hub.url, "pre-filled with this hub");
    assert.equal(await modal.getByLabel("Username").inputValue(), "");
    assert.ok(await ui.iconFontInUse(), "the embedded icon font is loaded and used");
    await screenshot(ui.page, "admin-ui-sign-in");

    assert.deepEqual(ui.otherOrigins, [], "no request leaves the hub's origin");
    assert.deepEqual(ui.fontResponses, [200], "the icon font comes from the hub, once");
    assert.deepEqual(ui.failures, []);
    assert.deepEqual(ui.errors, [], "no script error, nothing blocked by the Content-Security-Policy");
    await ui.close();
  });
});
