"""Top-k accuracy for single-label classification."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.evaluator import BaseMetric

from mmext.registry import METRICS


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor,
                  topk: Sequence[int]) -> List[float]:
    """Percentage of samples whose label is among the k highest scores.

    A ``k`` larger than the number of classes C is clipped to C (every
    label is then among the top k, so the accuracy is 100).

    Args:
        scores (Tensor): Class scores or logits, shape [N, C].
        labels (Tensor): Ground-truth class indices, shape [N].
        topk (Sequence[int]): The k values, each >= 1.

    Returns:
        list[float]: One accuracy in percent per k, in the order of
        ``topk``.
    """
    if scores.ndim != 2 or labels.ndim != 1 or \
            scores.shape[0] != labels.shape[0]:
        raise ValueError('topk_accuracy expects scores [N, C] and labels '
                         f'[N], got {tuple(scores.shape)} and '
                         f'{tuple(labels.shape)}')
    num, num_classes = scores.shape
    if num == 0:
        raise ValueError('topk_accuracy: no samples to evaluate')
    maxk = min(max(topk), num_classes)
    top_idx = scores.topk(maxk, dim=1).indices  # [N, maxk]
    hits = top_idx == labels.to(top_idx.device).view(-1, 1)  # [N, maxk]
    # hits_upto[:, j]: label within the first j + 1 predictions.
    hits_upto = hits.cumsum(dim=1) > 0
    return [
        hits_upto[:, min(k, num_classes) - 1].float().mean().item() * 100.0
        for k in topk
    ]


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Top-k accuracy (percent) from ``pred_score`` and ``gt_label``.

    Reports ``{prefix}/top{k}`` for each k, like mmpretrain's ``Accuracy``.
    Results are gathered across ranks by ``BaseMetric.collect_results``.

    Args:
        topk (int | Sequence[int]): The k values. A k above the number of
            classes is clipped to it. Defaults to (1, 5).
        collect_device (str): ``'cpu'`` or ``'gpu'``, the device used to
            gather results across ranks. Defaults to ``'cpu'``.
        prefix (str, optional): Key prefix. Defaults to ``'accuracy'``.
    """

    default_prefix: Optional[str] = 'accuracy'

    def __init__(self,
                 topk: Union[int, Sequence[int]] = (1, 5),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = 'accuracy') -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        if not topk or any(not isinstance(k, int) or k < 1 for k in topk):
            raise ValueError(
                f'Accuracy: topk must be positive ints, got {topk}')
        self.topk: Tuple[int, ...] = topk

    def process(self, data_batch: object,
                data_samples: Sequence[dict]) -> None:
        """Keep the score vector and label of each sample.

        Args:
            data_batch (object): Unused.
            data_samples (Sequence[dict]): Model outputs as dicts (the
                ``Evaluator`` converts data samples with ``to_dict()``),
                each with ``pred_score`` [C] and ``gt_label`` [1].
        """
        for sample in data_samples:
            if 'pred_score' not in sample or 'gt_label' not in sample:
                raise KeyError(
                    'Accuracy needs pred_score and gt_label in every data '
                    f'sample; got keys {sorted(sample)}')
            self.results.append(
                dict(
                    pred_score=sample['pred_score'].detach().cpu(),
                    gt_label=sample['gt_label'].detach().cpu().view(-1)))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Top-k accuracies of all gathered results.

        Args:
            results (list[dict]): Items appended by :meth:`process`.

        Returns:
            dict[str, float]: ``{'top1': ..., 'top5': ...}`` in percent
            (the prefix is added by ``BaseMetric.evaluate``).
        """
        scores = torch.stack([r['pred_score'] for r in results])  # [N, C]
        labels = torch.cat([r['gt_label'] for r in results])  # [N]
        values = topk_accuracy(scores, labels, self.topk)
        return {f'top{k}': v for k, v in zip(self.topk, values)}
