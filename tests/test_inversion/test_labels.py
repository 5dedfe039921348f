"""GradInversion's label recovery on mmpretrain's classifier, and the label
policy of an attack."""
import pytest
import torch

from mmext.inversion import (LABEL_SOURCES, attack_labels,
                             last_linear_weight_index, recover_labels)
from mmext.testing.classifiers import resnet18_classifier_cfg
from mmpretrain.models import ImageClassifier


def _fc_gradient(model, images, labels):
    model.zero_grad()
    logits = model(images, mode='tensor')
    torch.nn.functional.cross_entropy(logits, labels).backward()
    return model.head.fc.weight.grad


@pytest.fixture(scope='module')
def classifier():
    torch.manual_seed(0)
    model = ImageClassifier(**resnet18_classifier_cfg(8, 20))
    return model.eval()


def test_distinct_labels_are_recovered_exactly(classifier):
    generator = torch.Generator().manual_seed(1)
    for _ in range(20):
        batch = int(torch.randint(1, 9, (1, ), generator=generator))
        labels = torch.randperm(20, generator=generator)[:batch]
        images = torch.randn(batch, 3, 32, 32, generator=generator)
        grad = _fc_gradient(classifier, images, labels)
        assert torch.equal(recover_labels(grad, batch), labels.sort().values)


def test_the_rule_ranks_row_minima():
    grad = torch.tensor([[0.1, -0.2], [-0.5, 0.3], [0.0, 0.0],
                         [-0.1, -0.3]])
    assert recover_labels(grad, 2).tolist() == [1, 3]
    assert recover_labels(grad, 1).tolist() == [1]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match='num_classes, dim'):
        recover_labels(torch.zeros(4), 1)
    with pytest.raises(ValueError, match='batch_size must be in'):
        recover_labels(torch.zeros(4, 3), 5)


def test_attack_labels_policy():
    grad = torch.tensor([[0.1, -0.2], [-0.5, 0.3], [0.0, 0.0],
                         [-0.1, -0.3]])
    labels, recovered = attack_labels(grad, 2, 'recovered')
    assert labels.tolist() == recovered.tolist() == [1, 3]
    true = torch.tensor([3, 0])
    labels, recovered = attack_labels(grad, 2, 'true', true)
    assert labels is true and recovered.tolist() == [1, 3]
    labels, recovered = attack_labels(grad, 5, 'true', torch.arange(5))
    assert recovered is None and labels.tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="labels='true'"):
        attack_labels(grad, 5, 'recovered')
    with pytest.raises(ValueError, match="needs the batch's labels"):
        attack_labels(grad, 2, 'true')
    assert LABEL_SOURCES == ('recovered', 'true')


def test_last_linear_weight_index(classifier):
    params = [p for p in classifier.parameters() if p.requires_grad]
    index = last_linear_weight_index(classifier, params)
    assert params[index] is classifier.head.fc.weight


def test_old_import_path_warns():
    import mmext.engine.runner.gradinversion_loop as loop_module
    with pytest.warns(DeprecationWarning,
                      match='mmext.inversion.labels.last_linear_weight'):
        old = loop_module.last_linear_weight_index
    assert old is last_linear_weight_index
    with pytest.raises(AttributeError):
        loop_module.no_such_name
