"""Stream positions as the hub reports them (join acks, `recorded` entries, metadata)."""


def epoch_of(position):
    """The `epoch` of a stream position: random, so read, not predicted."""
    epoch = position.get("epoch")
    assert isinstance(epoch, str) and epoch, f"an epoch (a non-empty string) in {position}"
    return epoch
