"""What a python-socketio handler receives for a published event: exactly the published data, so that the
usual handler of one argument works; and the event's metadata as one more, last argument only for a
client that asks for it with `auth={"meta": True}`.

python-socketio calls a handler with every argument of the event: a handler of one argument given two
raises TypeError, which python-socketio logs, and the event is lost.
"""

import queue

import pytest
import requests

from positions import epoch_of


def publish_over_http(hub, body):
    response = requests.post(f"{hub.url}/api/publish", json=body,
                             headers={"Authorization": f"Bearer {hub.token}"}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def one_argument_handler(client, event):
    """Registers `def handler(data)`, as most code written for Socket.IO does, and returns its inbox."""
    inbox = queue.Queue()

    @client.on(event)
    def handler(data):
        inbox.put(data)

    return inbox


def test_socket_publish_into_a_room(hub, connect, room, received):
    subscriber = connect()
    inbox = one_argument_handler(subscriber, "foo")
    subscriber.call("join", room)
    publisher = connect(auth={"token": hub.token})
    reply = publisher.call("publish", {"event": "foo", "data": "bar", "rooms": [room]})
    recorded = [{"room": room, "offset": 1, "epoch": epoch_of(reply["recorded"][0])}]
    assert reply == {"ok": True, "delivered": 1, "recorded": recorded}
    assert received(inbox, "foo") == "bar"


def test_socket_publish_to_the_namespace(hub, connect, received):
    subscriber = connect()
    inbox = one_argument_handler(subscriber, "news")
    publisher = connect(auth={"token": hub.token})
    reply = publisher.call("publish", {"event": "news", "data": {"id": 1, "tags": ["a"]}})
    assert reply["ok"] is True
    assert received(inbox, "news") == {"id": 1, "tags": ["a"]}


def test_http_api_publish(hub, connect, room, received):
    subscriber = connect()
    inbox = one_argument_handler(subscriber, "report")
    subscriber.call("join", room)
    answer = publish_over_http(hub, {"event": "report", "data": {"url": "/r/42"}, "rooms": [room]})
    recorded = [{"room": room, "offset": 1, "epoch": epoch_of(answer["recorded"][0])}]
    assert answer == {"ok": True, "delivered": 1, "recorded": recorded}
    assert received(inbox, "report") == {"url": "/r/42"}


def test_direct_emit(hub, connect, received):
    subscriber = connect()
    inbox = one_argument_handler(subscriber, "foo")
    publisher = connect(auth={"token": hub.token})
    publisher.emit("foo", "bar")
    assert received(inbox, "foo") == "bar"


@pytest.mark.parametrize("via", ["socket publish into a room", "HTTP API to the namespace", "direct emit"])
def test_with_meta_the_metadata_comes_last(hub, connect, room, received, via):
    subscriber = connect(auth={"meta": True})
    inbox = queue.Queue()

    @subscriber.on("foo")
    def foo(data, meta):
        inbox.put((data, meta))

    subscriber.call("join", room)
    publisher = connect(auth={"token": hub.token})
    # The metadata carries where the event was recorded: the room's stream, or the namespace's (which the
    # other tests of the session publish into too).
    if via == "socket publish into a room":
        reply = publisher.call("publish", {"event": "foo", "data": "bar", "rooms": [room]})
        meta = {"namespace": "/", "room": room, "offset": 1, "epoch": epoch_of(reply["recorded"][0])}
        assert received(inbox, "foo") == ("bar", meta)
    elif via == "HTTP API to the namespace":
        [recorded] = publish_over_http(hub, {"event": "foo", "data": "bar"})["recorded"]
        meta = {"namespace": "/", "offset": recorded["offset"], "epoch": epoch_of(recorded)}
        assert received(inbox, "foo") == ("bar", meta)
    else:
        publisher.emit("foo", "bar")
        data, meta = received(inbox, "foo")
        assert (data, sorted(meta)) == ("bar", ["epoch", "namespace", "offset"])
        assert meta["namespace"] == "/" and meta["offset"] >= 1 and epoch_of(meta), meta
