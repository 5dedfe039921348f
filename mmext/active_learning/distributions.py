"""Class distributions of detection heads for the acquisition scores of
AL-SSL (Elezi et al., CVPR 2022, arXiv 2106.11921, Sec. 3).

Both scores compare full class distributions over the ``C`` object classes
and background; here they are ``[..., C + 1]`` with the background last, as
in mmdet.
"""
import torch
import torch.nn.functional as F
from torch import Tensor


def class_distribution(logits: Tensor, sigmoid: bool) -> Tensor:
    """Turn head logits into a ``C + 1``-way distribution, background last.

    Softmax heads (SSD, the RoI head of Faster R-CNN) already predict
    ``C + 1`` logits with the background last: their softmax is returned.
    Sigmoid heads (RetinaNet) predict ``C`` independent probabilities
    ``p_c``; the background gets ``prod_c (1 - p_c)`` (no class fires) and
    the ``C + 1`` values are normalised to sum to 1.

    Assumption: the paper uses a softmax SSD only; the sigmoid mapping is
    ours, so that the same scores apply to sigmoid heads.

    Args:
        logits: ``[..., C + 1]`` logits of a softmax head (background last)
            or ``[..., C]`` logits of a sigmoid head.
        sigmoid: Whether the head is a sigmoid one.

    Returns:
        ``[..., C + 1]`` probabilities summing to 1 over the last dimension,
        background last.
    """
    if logits.dim() == 0 or logits.shape[-1] < 1:
        raise ValueError(f'logits: expected [..., C\'] with C\' >= 1, got '
                         f'{tuple(logits.shape)}')
    if not sigmoid:
        if logits.shape[-1] < 2:
            raise ValueError(
                f'logits {tuple(logits.shape)}: a softmax head has C + 1 '
                'outputs (background last), at least 2')
        return F.softmax(logits, dim=-1)
    foreground = torch.sigmoid(logits)
    # prod(1 - sigmoid(z)) = exp(sum(log sigmoid(-z))), stable for large z.
    background = F.logsigmoid(-logits).sum(dim=-1, keepdim=True).exp()
    unnormalised = torch.cat([foreground, background], dim=-1)
    return unnormalised / unnormalised.sum(dim=-1, keepdim=True)
