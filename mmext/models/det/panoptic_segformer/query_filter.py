"""Repeated Hungarian matching: Panoptic SegFormer's query filter.

Li et al., CVPR 2022 (arXiv 2109.03814); the official code keeps up to
three location-decoder queries per ground-truth thing for the mask decoder:
it solves the assignment ``min(max_rounds, num_queries // num_gt)`` times,
each round barring the queries matched in earlier rounds. Round one is the
ordinary one-to-one DETR assignment.
"""
from typing import Tuple

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor


def repeated_hungarian(cost: Tensor, max_rounds: int
                       ) -> Tuple[Tensor, Tensor, Tensor]:
    """Match queries to targets several times without reusing a query.

    Args:
        cost: ``[num_queries, num_gt]`` assignment cost.
        max_rounds: Most rounds (queries kept per target), >= 1.

    Returns:
        ``(query_index, gt_index, round_index)``, three LongTensors ``[K]``
        on ``cost``'s device: one row per match, round by round, each
        round's matches sorted by query index.
    """
    if max_rounds < 1:
        raise ValueError(f'max_positives_per_gt: expected >= 1, got '
                         f'{max_rounds}')
    num_queries, num_gt = cost.shape
    device = cost.device
    if num_gt == 0 or num_queries == 0:
        empty = torch.empty(0, dtype=torch.long, device=device)
        return empty, empty.clone(), empty.clone()
    rounds = min(max_rounds, num_queries // num_gt) or 1
    work = cost.detach().float().cpu().clone()
    barred = work.abs().max().item() * 10 + 1e6 if work.numel() else 1e6
    queries, targets, round_ids = [], [], []
    for round_index in range(rounds):
        rows, cols = linear_sum_assignment(work.numpy())
        rows = torch.as_tensor(rows, dtype=torch.long)
        cols = torch.as_tensor(cols, dtype=torch.long)
        if round_index > 0:  # never hand a barred query out
            keep = work[rows, cols] < barred
            rows, cols = rows[keep], cols[keep]
        queries.append(rows)
        targets.append(cols)
        round_ids.append(torch.full_like(rows, round_index))
        work[rows] = barred
    return (torch.cat(queries).to(device), torch.cat(targets).to(device),
            torch.cat(round_ids).to(device))
