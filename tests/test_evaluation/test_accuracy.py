import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import METRICS as ROOT_METRICS

from mmext.evaluation import Accuracy, topk_accuracy
from mmext.structures import ClsDataSample


def _reference(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    order = np.argsort(-scores, axis=1, kind='stable')[:, :k]
    return float((order == labels[:, None]).any(axis=1).mean() * 100)


def _samples(scores: torch.Tensor, labels: torch.Tensor):
    out = []
    for score, label in zip(scores, labels):
        sample = ClsDataSample(metainfo=dict(img_path='x.png'))
        sample.gt_label = int(label)
        sample.pred_score = score.softmax(dim=0)
        sample.pred_label = score.argmax().view(1)
        out.append(sample)
    return out


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((300, 10)).astype(np.float32)
    labels = rng.integers(0, 10, 300)
    # Make the scores informative so the accuracies differ per k.
    scores[np.arange(300), labels] += 1.0
    return scores, labels


def test_topk_accuracy_matches_numpy(problem):
    scores, labels = problem
    got = topk_accuracy(
        torch.from_numpy(scores), torch.from_numpy(labels), (1, 3, 5, 10))
    want = [_reference(scores, labels, k) for k in (1, 3, 5, 10)]
    assert got == pytest.approx(want, abs=1e-4)
    assert want[0] < want[1] < want[2] < want[3] == 100.0


def test_topk_clipped_to_num_classes():
    scores = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
    labels = torch.tensor([2, 0])
    assert topk_accuracy(scores, labels, (1, 2, 5)) == pytest.approx(
        [50.0, 100.0, 100.0])


def test_topk_accuracy_rejects_bad_shapes():
    with pytest.raises(ValueError, match='scores'):
        topk_accuracy(torch.rand(3, 4), torch.zeros(2, dtype=torch.long),
                      (1, ))


def test_metric_process_and_evaluate(problem):
    scores, labels = problem
    metric = ROOT_METRICS.build(dict(type='mmext.Accuracy', topk=(1, 5)))
    assert isinstance(metric, Accuracy)
    samples = _samples(torch.from_numpy(scores), torch.from_numpy(labels))
    for start in range(0, 300, 64):  # batches, as in a val loop
        metric.process(
            None, [s.to_dict() for s in samples[start:start + 64]])
    result = metric.evaluate(size=300)
    assert set(result) == {'accuracy/top1', 'accuracy/top5'}
    assert result['accuracy/top1'] == pytest.approx(
        _reference(scores, labels, 1), abs=1e-4)
    assert result['accuracy/top5'] == pytest.approx(
        _reference(scores, labels, 5), abs=1e-4)
    assert metric.results == []  # cleared by evaluate


def test_through_evaluator_with_data_samples(problem):
    scores, labels = problem
    evaluator = Evaluator(
        [dict(type='mmext.Accuracy', topk=1, prefix='cls')])
    samples = _samples(torch.from_numpy(scores), torch.from_numpy(labels))
    evaluator.process(samples[:150])
    evaluator.process(samples[150:])
    result = evaluator.evaluate(300)
    assert list(result) == ['cls/top1']
    assert result['cls/top1'] == pytest.approx(
        _reference(scores, labels, 1), abs=1e-4)


def test_metric_errors():
    with pytest.raises(ValueError, match='topk'):
        Accuracy(topk=(0, 1))
    metric = Accuracy()
    with pytest.raises(KeyError, match='pred_score'):
        metric.process(None, [dict(gt_label=torch.tensor([1]))])


def _ddp_accuracy(rank, world_size, scores, labels):
    """Each rank sees its DefaultSampler slice (indices rank::world_size,
    padded by wrapping around), as in a distributed val loop."""
    num = len(labels)
    total = -(-num // world_size) * world_size
    indices = [i % num for i in range(total)][rank::world_size]
    metric = Accuracy(topk=(1, 5))
    samples = _samples(scores[indices], labels[indices])
    metric.process(None, [s.to_dict() for s in samples])
    return metric.evaluate(size=num)


def test_metric_is_ddp_correct(problem):
    from mmext.testing import run_distributed
    scores, labels = problem
    scores, labels = scores[:299], labels[:299]  # uneven: rank 1 is padded
    results = run_distributed(
        _ddp_accuracy,
        world_size=2,
        args=(torch.from_numpy(scores), torch.from_numpy(labels)))
    assert results[0] == results[1]
    assert results[0]['accuracy/top1'] == pytest.approx(
        _reference(scores, labels, 1), abs=1e-4)
    assert results[0]['accuracy/top5'] == pytest.approx(
        _reference(scores, labels, 5), abs=1e-4)
