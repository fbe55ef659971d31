// Test support: start the real `hub` binary on a free port, connect official socket.io clients.
import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const TOKEN = "node-test-publish-token";

export function binary(name) {
  const dir = process.env.HUB_TARGET_DIR ?? path.join(root, "target", "debug");
  return path.join(dir, name);
}

/**
 * Starts the real `hub` and resolves once it logs where it listens. By default it takes a free port and
 * the fixed test token; `token: null` lets it generate one into its token file (see `env`). `flags` are
 * passed as they are.
 */
export async function startHub({ bind = "127.0.0.1:0", token = TOKEN, env = {}, flags = [] } = {}) {
  const args = ["--bind", bind, ...(token ? ["--publish-token", token] : []), ...flags];
  const child = spawn(binary("hub"), args, {
    env: { ...process.env, RUST_LOG: "info", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub did not start:\n${log}`)), 10_000);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      log += chunk;
      const match = log.match(/hub listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`hub exited with ${code}:\n${log}`)));
  });
  return {
    url,
    log: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      const [code] = await once(child, "exit");
      return code;
    },
  };
}

/**
 * Connects an official client and waits for the CONNECT (or rejects with the connect_error).
 * `extraHeaders` go with the requests that open the session (Node only), e.g. a `cookie`.
 */
export function connect(url, { transports, namespace = "/", auth = {}, extraHeaders } = {}) {
  const socket = io(url + namespace, { transports, auth, extraHeaders, reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => {
      socket.close();
      reject(err);
    });
  });
}

/** The next `event` on `socket`, or a rejection after `ms`. */
export function nextEvent(socket, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    socket.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

/** Resolves if `event` does NOT arrive within `ms`. */
export function noEvent(socket, event, ms = 300) {
  return new Promise((resolve, reject) => {
    const listener = (...args) => reject(new Error(`unexpected ${event}: ${JSON.stringify(args)}`));
    socket.once(event, listener);
    setTimeout(() => {
      socket.off(event, listener);
      resolve();
    }, ms);
  });
}

/** Emits with an ack and resolves with all the ack's arguments. */
export function ack(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(5000).emit(event, ...args, (err, ...reply) => (err ? reject(err) : resolve(reply)));
  });
}

/** The `epoch` of a stream position (a join ack, a `recorded` entry, metadata): random, so read, not predicted. */
export function epochOf(position) {
  const epoch = position?.epoch;
  if (typeof epoch !== "string" || epoch === "") {
    throw new Error(`an epoch (a non-empty string) in ${JSON.stringify(position)}`);
  }
  return epoch;
}
