// What `publish --event E --data D` does, with the official socket.io-client: connect, emit `publish`
// with an ack, wait for it, disconnect. The reference the `publish` CLI is timed against.
// Usage: node publish.mjs URL TOKEN EVENT DATA
import { io } from "socket.io-client";

const [url, token, event, data] = process.argv.slice(2);
const socket = io(url, { auth: { token }, transports: ["websocket"], reconnection: false });
const fail = (message) => {
  console.error(message);
  process.exit(3);
};
const timer = setTimeout(() => fail("timed out"), 5000);
socket.on("connect_error", (err) => fail(err.message));
socket.on("connect", async () => {
  const ack = await socket.emitWithAck("publish", { event, data });
  clearTimeout(timer);
  socket.disconnect();
  if (!ack.ok) fail(`${ack.error}: ${ack.message}`);
  console.log(`delivered to ${ack.delivered}`);
});
