"""Which batches GradInversion attacks, and user-provided gradient files."""
import pytest
import torch
from torch import nn

from mmext.inversion import draw_target_batches, load_gradients_file

LABELS = [i % 5 for i in range(40)]  # 5 classes, 8 images each


def test_distinct_label_batches():
    batches = draw_target_batches(LABELS, 5, 8, 'distinct_labels', seed=3)
    assert len(batches) == 8
    used = [i for batch in batches for i in batch]
    assert len(set(used)) == len(used) == 40
    for batch in batches:
        assert sorted(LABELS[i] for i in batch) == [0, 1, 2, 3, 4]
    assert batches == draw_target_batches(LABELS, 5, 8, 'distinct_labels',
                                          seed=3)
    assert batches != draw_target_batches(LABELS, 5, 8, 'distinct_labels',
                                           seed=4)


def test_random_batches_and_errors():
    batches = draw_target_batches(LABELS, 16, 2, 'random', seed=0)
    assert [len(b) for b in batches] == [16, 16]
    assert len(set(batches[0]) | set(batches[1])) == 32
    with pytest.raises(ValueError, match='number of classes'):
        draw_target_batches(LABELS, 6, 1, 'distinct_labels')
    with pytest.raises(ValueError, match='dataset has 40'):
        draw_target_batches(LABELS, 16, 3, 'random')
    with pytest.raises(ValueError, match='sampling'):
        draw_target_batches(LABELS, 4, 1, 'balanced')


def test_gradients_file(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    named = list(model.named_parameters())
    names = [n for n, _ in named]
    params = [p for _, p in named]
    grads = {n: torch.randn_like(p) for n, p in named}
    path = str(tmp_path / 'g.pth')
    torch.save(dict(gradients=grads, batch_size=2,
                    labels=torch.tensor([0, 1])), path)
    loaded = load_gradients_file(path, params, names)
    assert loaded['batch_size'] == 2 and loaded['images'] is None
    for grad, name in zip(loaded['gradients'], names):
        assert torch.equal(grad, grads[name])
    torch.save(dict(gradients=list(grads.values()), batch_size=2), path)
    assert load_gradients_file(path, params, names)['labels'] is None
    bad = dict(grads, **{'2.weight': torch.zeros(5, 5)})
    torch.save(dict(gradients=bad, batch_size=2), path)
    with pytest.raises(ValueError, match=r'2\.weight has shape \(5, 5\)'):
        load_gradients_file(path, params, names)
    torch.save(dict(gradients={'x': torch.zeros(1)}, batch_size=2), path)
    with pytest.raises(ValueError, match="missing.*'0.weight'"):
        load_gradients_file(path, params, names)
    torch.save(dict(grads=grads), path)
    with pytest.raises(ValueError, match='"batch_size"'):
        load_gradients_file(path, params, names)
