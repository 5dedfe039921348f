"""RIO's per-class memory: replay before push, most recent entries, FIFO
capacity, non-target classes ignored, checkpoint round trip."""
import pytest
import torch

from mmext.models.det.memory_bank import ClassMemoryBank


def _batch(labels, start):
    """Features whose first entry is a running id (to read the order)."""
    n = len(labels)
    feats = torch.zeros(n, 3)
    feats[:, 0] = torch.arange(start, start + n, dtype=torch.float)
    return feats, torch.tensor(labels), feats[:, :2] * 10


def test_replay_comes_before_push_and_takes_the_most_recent():
    bank = ClassMemoryBank([2, 5], feature_dim=3, capacity=4, replay_size=3,
                           target_dim=2)
    # Step 1: nothing banked yet, so nothing replayed; class 7 and 0 ignored.
    feats, labels, targets = bank.step(*_batch([2, 7, 2, 0, 5], start=0))
    assert len(feats) == 0 and len(labels) == 0
    assert len(bank) == 3
    # Step 2: class 2 present -> its entries from step 1 (ids 0, 2), not
    # this batch's (ids 10, 11): replay, then push.
    feats, labels, targets = bank.step(*_batch([2, 2], start=10))
    assert feats[:, 0].tolist() == [0.0, 2.0]
    assert labels.tolist() == [2, 2]
    assert torch.equal(targets, feats[:, :2] * 10)
    # Bank of class 2 is now ids 0, 2, 10, 11; the next push of 2 entries
    # drops the two oldest (capacity 4).
    bank.step(*_batch([2, 2], start=20))
    assert bank.features[2][:, 0].tolist() == [10.0, 11.0, 20.0, 21.0]
    # Replay takes the 3 most recent, oldest first; classes ascending.
    feats, labels, _ = bank.step(*_batch([5, 2, 9], start=30))
    assert labels.tolist() == [2, 2, 2, 5]
    assert feats[:, 0].tolist() == [11.0, 20.0, 21.0, 4.0]


def test_replay_size_zero_disables_replay():
    bank = ClassMemoryBank([1], feature_dim=3, replay_size=0, target_dim=2)
    bank.step(*_batch([1, 1], start=0))
    assert len(bank.step(*_batch([1], start=5))[0]) == 0
    assert len(bank) == 3


def test_state_round_trip_and_errors():
    bank = ClassMemoryBank([3, 4], feature_dim=3, capacity=5, replay_size=2,
                           target_dim=2)
    bank.push(*_batch([3, 4, 4], start=0))
    restored = ClassMemoryBank([3, 4], feature_dim=3, capacity=5,
                               replay_size=2, target_dim=2)
    restored.load_state_dict(bank.state_dict())
    for c in (3, 4):
        assert torch.equal(restored.features[c], bank.features[c])
        assert torch.equal(restored.targets[c], bank.targets[c])
    assert bank.state_dict().shape == (3, 1 + 3 + 2)
    with pytest.raises(ValueError, match=r'classes \[4\].*same target'):
        ClassMemoryBank([3], feature_dim=3, target_dim=2).load_state_dict(
            bank.state_dict())
    with pytest.raises(ValueError, match=r'shape \[N, 8\]'):
        ClassMemoryBank([3, 4], feature_dim=3).load_state_dict(
            bank.state_dict())
    with pytest.raises(ValueError, match='replay_size'):
        ClassMemoryBank([3], feature_dim=3, capacity=2, replay_size=5)
    with pytest.raises(ValueError, match='differ in length'):
        bank.push(torch.zeros(2, 3), torch.tensor([3]), torch.zeros(2, 2))
