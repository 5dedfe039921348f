"""Channel saliency: HALP's BN-Taylor score and the magnitude score.

HALP (Shen et al., "Structural Pruning via Latency-Saliency Knapsack",
NeurIPS 2022, arXiv 2110.10811) scores each coupled channel by the
first-order Taylor estimate of the loss change when it is removed, taken on
the BatchNorm affine parameters and summed over the coupled layers *before*
the absolute value::

    s_c = | sum_{BN l in group} (gamma_lc * dL/dgamma_lc
                                 + beta_lc * dL/dbeta_lc) |

Groups without a BatchNorm use the weights of their producing layers
instead, ``s_c = | sum_{w in channel c} w * dL/dw |``. The score is averaged
over the iterations between two pruning steps (:class:`TaylorSaliency`).

The magnitude score (:func:`magnitude_saliency`) is the L1 norm of each
channel's producing weights, summed over the coupled producers (Li et al.,
"Pruning Filters for Efficient ConvNets", ICLR 2017), the usual global
magnitude baseline. EPI's magnitude criterion (Shen et al., "When to
Prune?", CVPR 2022; the score of the same group's MDP code) is instead the
L2 norm of the channel's concatenated producing weights divided by the
square root of their number, ``||W_c||_2 / sqrt(P_c)``
(:func:`normalized_l2_saliency`), so that one global ranking compares
layers of different fan-in fairly.
"""
from typing import Callable, Dict, List, Optional

import torch
from torch import nn

from .graph import ChannelGroup, GroupMember


def _signed_norm_taylor(modules: Dict[str, nn.Module],
                        member: GroupMember) -> Optional[torch.Tensor]:
    """gamma * dL/dgamma + beta * dL/dbeta of one BN, shape [M], or None."""
    bn = modules[member.name]
    terms = [
        p.detach() * p.grad for p in (bn.weight, bn.bias)
        if p is not None and p.grad is not None
    ]
    if not terms:
        return None
    return sum(terms)[member.module_index]


def _signed_weight_taylor(modules: Dict[str, nn.Module],
                          member: GroupMember) -> Optional[torch.Tensor]:
    """sum of w * dL/dw over each output channel's weights, shape [M]."""
    layer = modules[member.name]
    if layer.weight.grad is None:
        return None
    score = (layer.weight.detach() * layer.weight.grad).flatten(1).sum(1)
    if layer.bias is not None and layer.bias.grad is not None:
        score = score + layer.bias.detach() * layer.bias.grad
    return score[member.module_index]


def taylor_scores(model: nn.Module,
                  groups: List[ChannelGroup]) -> Dict[str, torch.Tensor]:
    """One iteration's HALP score per group channel from current ``.grad``.

    Args:
        model (nn.Module): The unwrapped model, right after backward (and
            after DDP's gradient averaging and AMP unscaling).
        groups (list[ChannelGroup]): The prunable groups.

    Returns:
        dict[str, Tensor]: Group key to non-negative scores, shape [C],
        float32. Groups without any gradient get zeros.
    """
    modules = dict(model.named_modules())
    scores = {}
    for group in groups:
        term = (_signed_norm_taylor
                if group.norms else _signed_weight_taylor)
        signed = _group_sum(group, group.norms or group.producers,
                            lambda member: term(modules, member))
        scores[group.key] = signed.abs()
    return scores


def _producer_sums(
        model: nn.Module, groups: List[ChannelGroup],
        per_row: Callable[[torch.Tensor], torch.Tensor]
) -> Dict[str, torch.Tensor]:
    """Sum over each group's producers of a per-output-channel statistic.

    Args:
        model (nn.Module): The unwrapped model.
        groups (list[ChannelGroup]): The prunable groups.
        per_row (Callable): A producer's weights as rows [M, fan_in] to one
            value per row [M].

    Returns:
        dict[str, Tensor]: Group key to sums, shape [C], float32.
    """
    modules = dict(model.named_modules())

    def term(member: GroupMember) -> torch.Tensor:
        rows = modules[member.name].weight.detach().flatten(1)
        return per_row(rows)[member.module_index]

    return {
        group.key: _group_sum(group, group.producers, term)
        for group in groups
    }


def magnitude_saliency(model: nn.Module,
                       groups: List[ChannelGroup]) -> Dict[str, torch.Tensor]:
    """L1 norm of each channel's producing weights, summed over producers.

    Args:
        model (nn.Module): The unwrapped model.
        groups (list[ChannelGroup]): The prunable groups.

    Returns:
        dict[str, Tensor]: Group key to scores, shape [C], float32.
    """
    return _producer_sums(model, groups, lambda rows: rows.abs().sum(1))


def normalized_l2_saliency(
        model: nn.Module,
        groups: List[ChannelGroup]) -> Dict[str, torch.Tensor]:
    """EPI's magnitude score ``||W_c||_2 / sqrt(P_c)`` per group channel.

    ``W_c`` concatenates the weights producing channel ``c`` in every
    coupled producer and ``P_c`` is their number.

    Args:
        model (nn.Module): The unwrapped model.
        groups (list[ChannelGroup]): The prunable groups.

    Returns:
        dict[str, Tensor]: Group key to scores, shape [C], float32.
    """
    squares = _producer_sums(model, groups,
                             lambda rows: rows.float().pow(2).sum(1))
    counts = _producer_sums(
        model, groups, lambda rows: torch.full(
            (rows.shape[0], ), float(rows.shape[1]), device=rows.device))
    return {
        key: (squares[key] / counts[key].clamp(min=1)).sqrt()
        for key in squares
    }


def _group_sum(group: ChannelGroup, members: List[GroupMember],
               term: Callable[[GroupMember], Optional[torch.Tensor]]
               ) -> torch.Tensor:
    """Sum of per-member channel terms onto the group's channels.

    Args:
        group (ChannelGroup): The group.
        members (list[GroupMember]): The members to sum over.
        term (Callable): Member to its terms [M] (aligned with
            ``member.module_index``), or None to skip the member.

    Returns:
        Tensor: Shape [C], float32; zeros where no member contributes.
    """
    total = torch.zeros(group.num_channels)
    for member in members:
        part = term(member)
        if part is not None:
            total = total.to(part.device)
            total.index_add_(0, member.group_index.to(part.device),
                             part.float())
    return total


class TaylorSaliency:
    """Running mean of HALP's Taylor score between pruning steps.

    Call :meth:`accumulate` once per optimiser update, after backward and
    before the step; :meth:`average` at a pruning step, then :meth:`reset`.
    An update whose scores are not finite (an AMP overflow, a diverging
    batch) is skipped, as the reference does.

    Args:
        groups (list[ChannelGroup]): The prunable groups.
    """

    def __init__(self, groups: List[ChannelGroup]) -> None:
        self.groups = groups
        self.sums: Dict[str, torch.Tensor] = {
            g.key: torch.zeros(g.num_channels, dtype=torch.float64)
            for g in groups
        }
        self.count = 0

    def accumulate(self, model: nn.Module) -> bool:
        """Add the current gradients' scores.

        Args:
            model (nn.Module): The unwrapped model.

        Returns:
            bool: False if the update was skipped (non-finite scores).
        """
        scores = taylor_scores(model, self.groups)
        if not all(torch.isfinite(s).all() for s in scores.values()):
            return False
        for key, score in scores.items():
            self.sums[key] += score.detach().to('cpu', torch.float64)
        self.count += 1
        return True

    def average(self) -> Dict[str, torch.Tensor]:
        """Mean score per group channel since the last reset, float64.

        Raises:
            RuntimeError: If nothing was accumulated.
        """
        if self.count == 0:
            raise RuntimeError(
                'TaylorSaliency.average: no gradients were accumulated '
                'since the last pruning step (is the interval at least 1 '
                'and does the model have trainable parameters in the '
                'pruned groups?)')
        return {k: s / self.count for k, s in self.sums.items()}

    def reset(self) -> None:
        """Start a new averaging window."""
        for score in self.sums.values():
            score.zero_()
        self.count = 0

    def state_dict(self) -> dict:
        """Sums and count, for checkpoints."""
        return dict(
            sums={k: v.clone()
                  for k, v in self.sums.items()}, count=self.count)

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` output (same groups)."""
        for key, value in state['sums'].items():
            if key in self.sums:
                self.sums[key].copy_(value)
        self.count = int(state['count'])


__all__ = [
    'TaylorSaliency', 'magnitude_saliency', 'normalized_l2_saliency',
    'taylor_scores'
]
