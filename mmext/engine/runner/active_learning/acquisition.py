"""Score the unlabelled pool and pseudo-label it, in shards across ranks.

One pass over the unlabelled images (the test pipeline, no augmentation)
gives, per image, the acquisition scores of Elezi et al. (CVPR 2022, arXiv
2106.11921, Sec. 3.2: the max box entropy and the max flip inconsistency)
and the model's detections above the pseudo-label threshold (Sec. 3.3).
Rank ``r`` of ``W`` takes every ``W``-th image; the per-image results are
gathered on every rank, so each holds the same table.
"""
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.utils import ProgressBar
from torch import nn
from torch.utils.data import DataLoader, Subset

from .pool_state import PseudoLabels

#: ``scorer(batch) -> [{'entropy': .., 'inconsistency': ..}, ...]``.
Scorer = Callable[[dict], List[Dict[str, float]]]


def _pseudo_labels(sample: Any, score_thr: float) -> Optional[PseudoLabels]:
    """Detections of one predicted data sample at or above ``score_thr``
    (original-image pixels), or None when there is none."""
    pred = sample.pred_instances
    keep = pred.scores >= score_thr
    if not bool(keep.any()):
        return None
    return PseudoLabels(
        bboxes=pred.bboxes[keep].tolist(),
        labels=pred.labels[keep].tolist(),
        scores=pred.scores[keep].tolist())


@torch.no_grad()
def score_pool(model: nn.Module,
               scorer: Optional[Scorer],
               dataset: Any,
               positions: Sequence[int],
               batch_size: int,
               collate_fn: Callable,
               pseudo_score_thr: Optional[float],
               progress: bool = True) -> Dict[int, Dict[str, Any]]:
    """Acquisition scores and pseudo-labels of the images at ``positions``.

    Args:
        model: The detector (not wrapped for DDP), with ``test_step``.
        scorer: Per-image acquisition scores of a collated batch, or None
            to skip scoring (random acquisition).
        dataset: The pool with the test pipeline.
        positions: Positions into ``dataset`` to score.
        batch_size: Images per forward.
        collate_fn: The test dataloader's collate function.
        pseudo_score_thr: Keep detections scoring at least this as pseudo
            labels; None skips pseudo-labelling.
        progress: Show a progress bar on rank 0.

    Returns:
        ``position -> {'entropy', 'inconsistency', 'pseudo'}`` for every
        position (all ranks), ``pseudo`` a :class:`PseudoLabels` or None.
    """
    rank, world_size = get_dist_info()
    mine = list(positions)[rank::world_size]
    loader = DataLoader(Subset(dataset, mine), batch_size=batch_size,
                        shuffle=False, collate_fn=collate_fn, num_workers=0)
    bar = (ProgressBar(len(positions))
           if progress and rank == 0 and len(positions) else None)
    was_training = model.training
    model.eval()
    results: Dict[int, Dict[str, Any]] = {}
    start = 0
    for batch in loader:
        batch_positions = mine[start:start + len(batch['inputs'])]
        start += len(batch_positions)
        scores = scorer(batch) if scorer is not None else [
            dict(entropy=0.0, inconsistency=0.0)
        ] * len(batch_positions)
        pseudo: List[Optional[PseudoLabels]] = [None] * len(batch_positions)
        if pseudo_score_thr is not None:
            predictions = model.test_step(batch)
            pseudo = [_pseudo_labels(p, pseudo_score_thr) for p in predictions]
        for position, score, labels in zip(batch_positions, scores, pseudo):
            results[position] = dict(
                entropy=float(score['entropy']),
                inconsistency=float(score['inconsistency']),
                pseudo=labels)
        if bar is not None:
            bar.update(min(len(batch_positions) * world_size,
                           bar.task_num - bar.completed))
    model.train(was_training)
    merged: Dict[int, Dict[str, Any]] = {}
    for part in all_gather_object(results):
        merged.update(part)
    if bar is not None:
        bar.file.write('\n')
    return merged
