"""Selection rules of AL-SSL (Elezi et al., CVPR 2022, arXiv 2106.11921,
Sec. 3.2): which unlabelled images to label next, from their entropy and
inconsistency scores (:mod:`mmext.active_learning.scores`).

- ``'random'``: a random permutation (the baseline).
- ``'entropy'`` / ``'inconsistency'``: the top of one score.
- ``'filter'``: the released code's default. The ``filter_num`` images of
  highest entropy are the candidates (3000 for a budget of 1000 there), and
  the most inconsistent of them are labelled.
- ``'product'``: the paper's unified score, entropy times inconsistency.
"""
from typing import Mapping, Optional

import torch
from torch import Tensor

RULES = ('random', 'entropy', 'inconsistency', 'filter', 'product')

#: The scores each rule reads.
_NEEDS = {
    'random': (),
    'entropy': ('entropy', ),
    'inconsistency': ('inconsistency', ),
    'filter': ('entropy', 'inconsistency'),
    'product': ('entropy', 'inconsistency'),
}


def _top(score: Tensor, k: int) -> Tensor:
    """Positions of the ``k`` highest values, best first; ties keep the
    lower position first."""
    return torch.sort(score, descending=True, stable=True).indices[:k]


def select(scores: Mapping[str, Tensor],
           budget: int,
           rule: str,
           filter_num: Optional[int] = None,
           generator: Optional[torch.Generator] = None) -> Tensor:
    """Pick ``budget`` images of the unlabelled pool to label.

    Args:
        scores: Image scores, ``{'entropy': [N], 'inconsistency': [N]}``;
            only those the rule reads must be present ('random' reads none
            but takes ``N`` from any score given).
        budget: Number of images to pick, ``1 <= budget <= N``.
        rule: One of :data:`RULES`.
        filter_num: 'filter' only: how many of the highest-entropy images
            are candidates; ``None`` means ``3 * budget`` (the released
            code's 3000 for 1000), capped at ``N``. Must be ``>= budget``.
            Assumption: only the candidates can be picked, whereas the
            released code sets the other images' inconsistency to 0 and
            ranks all images; the two agree unless fewer than ``budget``
            candidates have a positive inconsistency.
        generator: 'random' only: the generator of ``torch.randperm``.

    Returns:
        ``[budget]`` int64 positions in ``0 .. N - 1``, best first, without
        repeats. Equal scores keep the lower position first.

    Raises:
        ValueError: naming the config field at fault (``acquisition.rule``,
            ``acquisition.filter_num``, ``train_cfg.budget``) or the missing
            score.
    """
    if rule not in RULES:
        raise ValueError(f'acquisition.rule={rule!r}: expected one of '
                         f'{RULES}')
    missing = [key for key in _NEEDS[rule] if key not in scores]
    if missing:
        raise ValueError(
            f'acquisition.rule={rule!r} needs the image scores {missing}, '
            f'got only {sorted(scores)}')
    if not scores:
        raise ValueError(
            f"acquisition.rule={rule!r}: no image scores given, so the "
            "pool size is unknown; pass at least one, e.g. 'entropy'")
    sizes = {key: tuple(value.shape) for key, value in scores.items()}
    if any(len(size) != 1 for size in sizes.values()) or len(
            set(sizes.values())) > 1:
        raise ValueError(f'scores: expected one [N] tensor per score, got '
                         f'shapes {sizes}')
    num = next(iter(sizes.values()))[0]
    if budget < 1 or budget > num:
        raise ValueError(
            f'train_cfg.budget={budget}: only {num} images are left in the '
            'unlabelled pool; the budget must be between 1 and that number '
            '(lower it, or run fewer cycles)')
    if rule == 'random':
        order = torch.randperm(num, generator=generator)
        return order[:budget].long()
    if rule in ('entropy', 'inconsistency'):
        return _top(scores[rule], budget)
    entropy = scores['entropy']
    inconsistency = scores['inconsistency']
    if rule == 'product':
        return _top(entropy * inconsistency, budget)
    # filter
    if filter_num is None:
        filter_num = 3 * budget
    if filter_num < budget:
        raise ValueError(
            f'acquisition.filter_num={filter_num} must be >= '
            f'train_cfg.budget={budget}: the most inconsistent images are '
            'picked among the filter_num of highest entropy')
    # In position order, so that equal inconsistencies keep the lower
    # position first, as in the other rules.
    candidates = _top(entropy, min(filter_num, num)).sort().values
    best = _top(inconsistency[candidates], budget)
    return candidates[best]
