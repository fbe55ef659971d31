// Test support: Debian's Chromium driven by playwright-core, and the demo page and the Admin UI as a
// person uses them.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const SCREENSHOTS = path.join(root, "tests", "screenshots");
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Launches headless Chromium; no network beyond loopback is needed, so background services stay off. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Saves a full-page screenshot as tests/screenshots/NAME.png (ignored by git). */
export async function screenshot(page, name) {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/**
 * One person on the demo page, in a browser context of their own (own storage, own connection).
 * Every action goes through the keyboard, as a keyboard-only user would do it.
 */
export class DemoPage {
  static async open(browser, url, { viewport = { width: 1280, height: 800 } } = {}) {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    const demo = new DemoPage(page);
    page.on("pageerror", (err) => demo.errors.push(err.message));
    page.on("console", (msg) => {
      if (msg.type() !== "error") return;
      const line = `${msg.text()} (${msg.location().url})`;
      // Engine.IO answers 400 to a request of a session it no longer knows (after a reconnect, a reload,
      // a hub restart), and the client's attempts fail while the browser is offline; the official client
      // then opens a new session. Kept as a note, not an error.
      const refused = /status of 400|net::ERR_INTERNET_DISCONNECTED/.test(msg.text());
      if (/\/socket\.io\/\?/.test(msg.location().url) && refused) {
        demo.transportNotes.push(line);
      } else {
        demo.errors.push(line);
      }
    });
    await page.goto(url);
    return demo;
  }

  constructor(page) {
    this.page = page;
    /** Script errors and console errors: each test asserts there are none. */
    this.errors = [];
    /** Engine.IO session refusals the client recovered from (reported, not failed on). */
    this.transportNotes = [];
  }

  async connect(name) {
    await this.page.fill("#name", name);
    await this.page.press("#name", "Enter");
    await this.statusIs(/^connected · websocket$/);
  }

  async statusIs(pattern, timeout = 10_000) {
    await this.page.waitForFunction(
      ([source, flags]) => new RegExp(source, flags).test(document.getElementById("status-text").textContent),
      [pattern.source, pattern.flags],
      { timeout },
    );
  }

  async join(room) {
    await this.page.fill("#room", room);
    await this.page.press("#room", "Enter");
    await this.page.locator("#rooms .room-name", { hasText: room }).first().waitFor();
  }

  async say(text) {
    await this.page.fill("#text", text);
    await this.page.press("#text", "Enter");
  }

  /** Waits for a message from someone else with this exact text, in the selected room. */
  async received(text, timeout = 5000) {
    await this.page.waitForFunction(
      (wanted) =>
        [...document.querySelectorAll("#log .msg.theirs .msg-text")].some((m) => m.textContent === wanted),
      text,
      { timeout },
    );
  }

  /** Texts of the messages in the selected room, by kind ("mine", "theirs", "system"). */
  messages(kind) {
    return this.page.$$eval(`#log .msg.${kind} .msg-text`, (nodes) => nodes.map((n) => n.textContent));
  }

  /** The feed of published events, newest first. */
  events() {
    return this.page.$$eval("#events .event", (items) =>
      items.map((item) => ({
        event: item.querySelector(".event-name").textContent,
        route: item.querySelector(".route").textContent,
        data: item.querySelector(".event-data").textContent,
      })),
    );
  }

  /** The notes in the feed of published events (what a reconnect recovered), newest first. */
  feedNotes() {
    return this.page.$$eval("#events .note", (items) => items.map((item) => item.textContent));
  }

  /** The member count the room list shows for `room`. */
  membersOf(room) {
    return this.page
      .locator("#rooms .room", { has: this.page.locator(".room-name", { hasText: room }) })
      .locator(".members")
      .textContent();
  }

  close() {
    return this.page.context().close();
  }
}

/**
 * The official Socket.IO Admin UI at the hub's /admin/, in a browser context of its own, with every
 * request watched: those to other origins and failed ones are recorded, as are script and console errors
 * (a Content-Security-Policy violation is a console error).
 */
export class AdminUi {
  static async open(browser, hubUrl) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const ui = new AdminUi(await context.newPage(), new URL(hubUrl).origin);
    await ui.page.goto(`${hubUrl}/admin/`);
    return ui;
  }

  constructor(page, origin) {
    this.page = page;
    /** Requests (websockets included) to any other origin than the hub's. */
    this.otherOrigins = [];
    /** Requests that failed or were answered 4xx or 5xx. */
    this.failures = [];
    this.errors = [];
    /** Statuses of the icon font's responses. */
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
      if (new URL(response.url()).pathname.endsWith(".woff2")) this.fontResponses.push(response.status());
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

  /** Fills the sign-in form and submits it (the server URL is left as the hub pre-filled it). */
  async submitSignIn(username, password) {
    const modal = await this.modal();
    await modal.getByLabel("Username").fill(username);
    await modal.getByLabel("Password").fill(password);
    await modal.getByRole("button", { name: "Connect" }).click();
    return modal;
  }

  /** Signs in and waits for the UI to say it is connected. */
  async signIn(username, password) {
    const modal = await this.submitSignIn(username, password);
    await modal.waitFor({ state: "hidden" });
    // The app bar has a status chip for wide screens and one for narrow ones.
    const status = this.page.locator("header").getByText("connected", { exact: true });
    await status.filter({ visible: true }).first().waitFor();
  }

  /** Opens a page of the UI ("Dashboard", "Sockets", "Rooms", ...) from its navigation drawer. */
  async show(section) {
    await this.page.locator(".v-navigation-drawer").getByText(section, { exact: true }).click();
    // Until the page it leaves is gone (a transition), two pages and their breadcrumbs are in the DOM.
    await this.page.waitForFunction((title) => {
      const crumbs = document.querySelectorAll(".v-breadcrumbs");
      const current = crumbs[0]?.querySelector(".v-breadcrumbs__item--disabled");
      return crumbs.length === 1 && current?.textContent.trim() === title;
    }, section);
  }

  /** The row of the data table that has a cell with exactly `text`. */
  row(text, within = this.page) {
    return within.locator(".v-data-table tbody tr").filter({
      has: this.page.locator("td", { hasText: new RegExp(`^\\s*${escapeRegExp(text)}\\s*$`) }),
    });
  }

  /** Whether the icon font is loaded and used by the navigation's icons. */
  iconFontInUse() {
    return this.page.evaluate(async (family) => {
      await document.fonts.ready;
      const icon = document.querySelector(".v-navigation-drawer .mdi");
      const used = icon && getComputedStyle(icon, "::before").fontFamily.includes(family);
      return Boolean(used) && document.fonts.check(`24px "${family}"`);
    }, "Material Design Icons");
  }

  close() {
    return this.page.context().close();
  }
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
