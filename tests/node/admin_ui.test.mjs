// The official Socket.IO Admin UI that the hub serves at /admin/, in real Chromium against the real hub.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { launchBrowser, screenshot } from "./browser.mjs";
import { startHub } from "./harness.mjs";

const ICON_FONT = "Material Design Icons";

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(() => browser.close());

/**
 * The Admin UI in a browser context of its own, with every request watched: those to other origins, and
 * failed ones, are recorded, as are script and console errors (a CSP violation is a console error).
 */
class AdminUi {
  static async open(hubUrl) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const ui = new AdminUi(await context.newPage(), new URL(hubUrl).origin);
    await ui.page.goto(`${hubUrl}/admin/`);
    return ui;
  }

  constructor(page, origin) {
    this.page = page;
    this.otherOrigins = [];
    this.failures = [];
    this.errors = [];
    this.fontResponses = [];
    page.on("request", (request) => {
      if (new URL(request.url()).origin !== origin) this.otherOrigins.push(request.url());
    });
    page.on("websocket", (ws) => {
      if (new URL(ws.url()).host !== new URL(origin).host) this.otherOrigins.push(ws.url());
    });
    page.on("requestfailed", (request) => this.failures.push(`${request.url()}: ${request.failure()?.errorText}`));
    page.on("response", (response) => {
      if (response.status() >= 400) this.failures.push(`${response.url()}: ${response.status()}`);
      if (response.url().endsWith(".woff2")) this.fontResponses.push(response.status());
    });
    page.on("pageerror", (err) => this.errors.push(err.message));
    page.on("console", (msg) => msg.type() === "error" && this.errors.push(msg.text()));
  }

  /** The connection modal (the UI's sign-in form), once it is open. */
  async modal() {
    const modal = this.page.locator(".v-dialog--active");
    await modal.getByText("Connection", { exact: true }).waitFor();
    return modal;
  }

  /** Whether the icon font is loaded and used by the navigation's icons. */
  iconFontInUse() {
    return this.page.evaluate(async (family) => {
      await document.fonts.ready;
      const icon = document.querySelector(".v-navigation-drawer .mdi");
      const used = icon && getComputedStyle(icon, "::before").fontFamily.includes(family);
      return Boolean(used) && document.fonts.check(`24px "${family}"`);
    }, ICON_FONT);
  }

  close() {
    return this.page.context().close();
  }
}

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
    const ui = await AdminUi.open(hub.url);
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
