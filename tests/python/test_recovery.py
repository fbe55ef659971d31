"""Recovery with python-socketio over websocket: a client whose connection is cut reconnects (its `auth`
is a function, so the reconnection sends where it stands in the namespace's stream), rejoins its room
with `since`, and receives every event it missed once, exactly as a client that stayed connected
received it live, through the usual handlers (`def foo(data, meta)` for published events).

python-socketio runs each event's handler on a thread of its own, so the order in which handlers run is
not the order on the wire: this test checks that each missed event arrives exactly once with the same
arguments; the Node and Rust tests check the order.
"""

import threading
import time

import requests
import socketio

from positions import epoch_of

WAIT = 5.0


class Inbox:
    """Every event a client's handlers got, keyed by stream and offset, and where the client stands."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events = []
        self.recoveries = []
        self.namespace = None

    def add(self, event, args, position):
        with self.lock:
            self.events.append((event, args))
            if position.get("room") is None and "offset" in position:
                self.namespace = {"offset": position["offset"], "epoch": position["epoch"]}

    def listen(self, client):
        @client.on("news")
        def news(data, meta):
            self.add("news", (data, meta), meta)

        @client.on("tick")
        def tick(data, meta):
            self.add("tick", (data, meta), meta)

        @client.on("chat")
        def chat(message):
            self.add("chat", (message,), message)

        @client.on("recovery")
        def recovery(stream):
            with self.lock:
                self.recoveries.append(stream)
                self.namespace = {"offset": stream["offset"], "epoch": stream["epoch"]}

    def keyed(self):
        """The events by (room or None, offset); fails on an event received twice."""
        with self.lock:
            keyed = {}
            for event, args in self.events:
                position = args[-1]
                key = (position.get("room"), position["offset"])
                assert key not in keyed, f"received twice: {event} {args}"
                keyed[key] = (event, args)
            return keyed

    def wait_for(self, count):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.events) >= count:
                    return
            time.sleep(0.02)
        raise AssertionError(f"{count} events within {WAIT} s, got {len(self.events)}")


def wait_until(what, check):
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, f"{what} within {WAIT} s"
        time.sleep(0.02)


def test_a_client_cut_off_over_websocket_gets_every_missed_event_once(hub, room):
    clients = []

    def connect(auth, inbox=None):
        client = socketio.Client(reconnection=False)
        if inbox:
            inbox.listen(client)
        client.connect(hub.url, auth=auth, transports=["websocket"], wait_timeout=WAIT)
        clients.append(client)
        return client

    try:
        publisher = connect({"token": hub.token})
        chatter = connect({"user": "chatter"})
        chatter.call("join", room)
        # The witness stays connected: what it receives live, the subscriber must receive again.
        witnessed = Inbox()
        witness = connect({"meta": True}, witnessed)
        witness.call("join", room)

        inbox = Inbox()
        subscriber = socketio.Client(reconnection=False)
        inbox.listen(subscriber)
        clients.append(subscriber)

        def auth():
            """Called at each connection: where the client stands in the namespace's stream."""
            with inbox.lock:
                where = {"since": inbox.namespace} if inbox.namespace else {"history": 0}
            return {"meta": True, **where}

        subscriber.connect(hub.url, auth=auth, transports=["websocket"], wait_timeout=WAIT)
        wait_until("the recovery event", lambda: inbox.recoveries)
        joined = subscriber.call("join", room)
        epoch = epoch_of(joined)
        assert joined == {"ok": True, "room": room, "members": 3, "offset": 0, "epoch": epoch}

        # Live first.
        publisher.call("publish", {"event": "news", "data": 0, "rooms": [room]})
        inbox.wait_for(1)
        in_room = {"offset": 1, "epoch": epoch}

        # Cut: the websocket closes under the client; the hub notices.
        subscriber.eio.ws.close()
        wait_until("the client notices", lambda: not subscriber.connected)
        wait_until("the hub drops the cut socket", lambda: chatter.call("join", room)["members"] == 2)
        live = len(witnessed.events)

        # Meanwhile: 100 room events (chat messages, socket and HTTP API publishes) and 10 direct emits.
        # 25 chat messages: the session's hub keeps the default chat rate limit (bursts of 40).
        for n in range(1, 101):
            if n % 4 == 0:
                assert chatter.call("chat", {"room": room, "text": f"chat {n}"})["ok"] is True
            elif n % 2 == 1:
                request = {"event": "news", "data": {"n": n}, "rooms": [room]}
                assert publisher.call("publish", request)["ok"] is True
            else:
                response = requests.post(f"{hub.url}/api/publish", timeout=WAIT,
                                         headers={"Authorization": f"Bearer {hub.token}"},
                                         json={"event": "news", "data": {"n": n, "via": "api"}, "rooms": [room]})
                assert response.status_code == 200, response.text
            if n % 10 == 0:
                publisher.emit("tick", {"n": n})
        witnessed.wait_for(live + 110)
        missed = {key: event for key, event in witnessed.keyed().items()
                  if key[0] is None or key[1] > 1}
        assert sorted(offset for (stream, offset) in missed if stream == room) == list(range(2, 102))
        assert len([key for key in missed if key[0] is None]) == 10

        # Back, on the same client: the namespace's events at CONNECT, the room's at `join`.
        seen = len(inbox.events)
        subscriber.connect(hub.url, auth=auth, transports=["websocket"], wait_timeout=WAIT)
        wait_until("the second recovery event", lambda: len(inbox.recoveries) == 2)
        recovery = inbox.recoveries[1]
        assert (recovery["recovered"], recovery["missed"]) == (True, 10), recovery
        ack = subscriber.call("join", (room, {"since": in_room}))
        assert ack == {"ok": True, "room": room, "members": 3, "offset": 101, "epoch": epoch,
                       "recovered": True, "missed": 100}
        inbox.wait_for(seen + 110)
        recovered = {key: event for key, event in inbox.keyed().items() if key in missed}
        assert len(inbox.events) == seen + 110, "nothing else, nothing twice"
        assert recovered == missed, "every missed event once, with the arguments it had live"

        publisher.call("publish", {"event": "news", "data": "live", "rooms": [room]})
        inbox.wait_for(seen + 111)
        assert inbox.keyed()[(room, 102)] == ("news", ("live", {"namespace": "/", "room": room,
                                                                "offset": 102, "epoch": epoch}))
    finally:
        for client in clients:
            client.disconnect()
