"""Which batches GradInversion attacks, user-provided gradient files, and
the target of a batch (:class:`mmext.inversion.InversionTarget`)."""
import pytest
import torch
from torch import nn

from mmext.inversion import (batch_target, draw_pool, draw_target_batches,
                             file_target, image_features, load_gradients_file)

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


class TinyClassifier(nn.Module):
    """conv -> ReLU -> global mean (non-negative features) -> linear."""

    def __init__(self, num_classes: int = 5) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, num_classes)

    def extract_feat(self, images):
        return (torch.relu(self.conv(images)).mean((2, 3)), )

    def forward(self, images):
        return self.fc(self.extract_feat(images)[-1])


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    model = TinyClassifier().eval()
    images = torch.randn(3, 3, 6, 6,
                         generator=torch.Generator().manual_seed(1))
    return model, images, torch.tensor([4, 0, 2])


def test_batch_target_gradients_are_the_batch_mean_gradients(tiny):
    model, images, labels = tiny
    target = batch_target(model, images, labels)
    loss = nn.functional.cross_entropy(model(images), labels)
    expected = torch.autograd.grad(loss, list(model.parameters()))
    assert len(target.gradients) == len(expected) == 4
    for got, want in zip(target.gradients, expected):
        assert got.shape == want.shape
        assert torch.allclose(got, want, atol=1e-7)
    assert target.batch_size == 3 and target.ids == [0, 1, 2]
    assert target.image_shape == (3, 6, 6)
    assert target.images is images
    assert torch.equal(target.true_labels, labels)
    # Distinct labels and ReLU features: Eq. 8 finds the batch (sorted).
    assert target.label_source == 'recovered'
    assert target.recovered_labels.tolist() == [0, 2, 4]
    assert torch.equal(target.labels, target.recovered_labels)
    assert torch.equal(target.features, model.extract_feat(images)[0])
    assert target.features.shape == (3, 4)


def test_true_label_policy_and_batches_larger_than_the_classes(tiny):
    model, images, labels = tiny
    target = batch_target(model, images, labels, 'true', ids=[7, 8, 9],
                          with_features=False)
    assert target.labels.tolist() == [4, 0, 2]  # the batch's own order
    assert target.recovered_labels.tolist() == [0, 2, 4]
    assert target.ids == [7, 8, 9] and target.features is None
    big = torch.randn(6, 3, 6, 6)
    repeated = torch.tensor([0, 1, 2, 3, 4, 4])
    with pytest.raises(ValueError, match="at most 5 images.*labels='true'"):
        batch_target(model, big, repeated)
    target = batch_target(model, big, repeated, 'true')
    assert target.recovered_labels is None
    assert torch.equal(target.labels, repeated)
    with pytest.raises(ValueError, match='labels must be one of'):
        batch_target(model, images, labels, 'guessed')


def test_the_label_rule_needs_a_trainable_last_linear(tiny):
    model, images, labels = tiny
    model.fc.weight.requires_grad_(False)
    with pytest.raises(ValueError, match='last nn.Linear weight is frozen'):
        batch_target(model, images, labels)
    conv_only = nn.Sequential(nn.Conv2d(3, 5, 6), nn.Flatten())
    with pytest.raises(ValueError, match="has none.*labels='true'"):
        batch_target(conv_only, images, labels, 'true')


def test_file_target(tiny, tmp_path):
    model, images, labels = tiny
    grads = batch_target(model, images, labels).gradients
    names = [n for n, _ in model.named_parameters()]
    path = str(tmp_path / 'grads.pth')
    torch.save(dict(gradients=dict(zip(names, grads)), batch_size=3,
                    labels=labels), path)
    with pytest.raises(ValueError, match=r'no "images"; set image_shape'):
        file_target(model, path)
    target = file_target(model, path, 'true', image_shape=[3, 6, 6])
    assert target.ids == [-3, -2, -1] and target.image_shape == (3, 6, 6)
    assert target.images is None and target.features is None
    assert target.labels.tolist() == [4, 0, 2]
    assert target.recovered_labels.tolist() == [0, 2, 4]
    for got, want in zip(target.gradients, grads):
        assert torch.equal(got, want)
    torch.save(dict(gradients=grads, batch_size=3, images=images), path)
    with pytest.raises(ValueError, match="labels='true' needs"):
        file_target(model, path, 'true')
    target = file_target(model, path)
    assert target.true_labels is None and target.image_shape == (3, 6, 6)
    assert target.labels.tolist() == [0, 2, 4]
    assert torch.equal(target.features, model.extract_feat(images)[0])


def test_draw_pool_and_features():
    pool = draw_pool(20, {3, 4, 5}, 6, seed=1)
    assert len(pool) == len(set(pool)) == 6
    assert not {3, 4, 5} & set(pool)
    assert pool == draw_pool(20, {3, 4, 5}, 6, seed=1)
    assert pool != draw_pool(20, {3, 4, 5}, 6, seed=2)
    # The draw is a torch.randperm with the seed, minus the excluded items.
    order = torch.randperm(20, generator=torch.Generator().manual_seed(1))
    assert pool == [i for i in order.tolist() if i not in {3, 4, 5}][:6]
    assert len(draw_pool(5, {0}, 10, seed=0)) == 4
    assert image_features(nn.Linear(2, 2), torch.zeros(1, 2)) is None
