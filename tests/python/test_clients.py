"""python-socketio clients against the real hub, over polling and over websocket: rooms, chat, echo, and
publishing as a publisher (the `publish` event and direct emits)."""

import queue
import time

from positions import epoch_of


def test_join_acks_with_the_room_its_size_and_its_stream(connect, room):
    a, b = connect(), connect()
    first = a.call("join", room)
    epoch = epoch_of(first)
    assert first == {"ok": True, "room": room, "members": 1, "offset": 0, "epoch": epoch}
    assert b.call("join", room) == {"ok": True, "room": room, "members": 2, "offset": 0, "epoch": epoch}
    refused = b.call("join", "")
    assert (refused["ok"], refused["error"]) == (False, "bad_request")
    assert a.call("leave", room) == {"ok": True, "room": room, "members": 1}


def test_chat_between_two_python_clients(connect, room, received):
    alice = connect(auth={"user": "alice"})
    bob = connect(auth={"user": "bob"})
    to_bob, to_alice = queue.Queue(), queue.Queue()
    bob.on("chat", to_bob.put)
    alice.on("chat", to_alice.put)
    alice.call("join", room)
    bob.call("join", room)

    reply = alice.call("chat", {"room": room, "text": "hi bob"})
    epoch = epoch_of(reply)
    assert reply == {"ok": True, "ts": reply["ts"], "offset": 1, "epoch": epoch}
    assert received(to_bob, "chat") == {"room": room, "text": "hi bob", "user": "alice", "ts": reply["ts"],
                                        "offset": 1, "epoch": epoch}

    reply = bob.call("chat", {"room": room, "text": "hi alice"})
    assert received(to_alice, "chat") == {"room": room, "text": "hi alice", "user": "bob", "ts": reply["ts"],
                                          "offset": 2, "epoch": epoch}
    time.sleep(0.3)
    assert to_bob.empty(), "a chat message does not come back to its sender"


def test_echo_acks_with_the_same_arguments(connect):
    client = connect()
    # A tuple is sent as several arguments, and an ack of several arguments comes back as a tuple.
    assert client.call("echo", (1, "two", {"three": [3]})) == (1, "two", {"three": [3]})
    assert client.call("echo", "one") == "one"
    assert client.call("echo", ([1, 2],)) == [1, 2], "a list stays one argument"


def test_a_publisher_publishes_into_a_room(hub, connect, room, received):
    subscriber, outside = connect(), connect()
    publisher = connect(auth={"token": hub.token})
    inbox, elsewhere = queue.Queue(), queue.Queue()
    # Any number of arguments: what they are is the subject of test_published_arguments.py.
    subscriber.on("headline", lambda *args: inbox.put(args))
    outside.on("headline", lambda *args: elsewhere.put(args))
    subscriber.call("join", room)

    reply = publisher.call("publish", {"event": "headline", "data": {"id": 7}, "rooms": [room]})
    recorded = [{"room": room, "offset": 1, "epoch": epoch_of(reply["recorded"][0])}]
    assert reply == {"ok": True, "delivered": 1, "recorded": recorded}
    assert received(inbox, "headline")[0] == {"id": 7}
    time.sleep(0.3)
    assert elsewhere.empty(), "a socket outside the room gets nothing"


def test_a_publisher_emits_directly(hub, connect, received):
    subscriber = connect()
    publisher = connect(auth={"token": hub.token})
    inbox, own = queue.Queue(), queue.Queue()
    subscriber.on("foo", lambda *args: inbox.put(args))
    publisher.on("foo", lambda *args: own.put(args))

    publisher.emit("foo", "bar")
    assert received(inbox, "foo") == ("bar",)
    reply = publisher.call("foo", "again")
    assert reply["ok"] is True and reply["delivered"] >= 1, reply
    time.sleep(0.3)
    assert own.empty(), "a publisher does not receive its own events"


def test_only_the_token_makes_a_publisher(connect):
    browser = connect(auth={"user": "eve"})
    reply = browser.call("publish", {"event": "headline", "data": 1})
    assert (reply["ok"], reply["error"]) == (False, "forbidden")
