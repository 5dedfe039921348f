"""GradInversion's label recovery (Yin, Mallya, Vahdat, Alvarez, Kautz,
Molchanov, "See through Gradients: Image Batch Recovery via GradInversion",
CVPR 2021, arXiv 2104.07586, Eq. 8).

With a non-negative embedding in front of the classifier (ReLU, then
average pooling) the weight gradient of the last linear layer,
``dL/dW[n, m] = mean_i (p_in - y_in) * h_im``, is negative only where the
target class ``n`` of some sample meets a positive feature ``h_im``: the
rows of the batch's classes hold the most negative entries. The rule ranks
classes by the minimum of their row and keeps the ``batch_size`` lowest; it
is exact for distinct labels and cannot name a class twice.
"""
from typing import Optional, Sequence, Tuple

import torch
from torch import nn


def recover_labels(fc_weight_grad: torch.Tensor,
                   batch_size: int) -> torch.Tensor:
    """The batch's labels from the final linear layer's weight gradient.

    Args:
        fc_weight_grad (Tensor): ``dL/dW`` of the last linear layer, shape
            [num_classes, dim], averaged over the batch.
        batch_size (int): Number of labels to return, at most num_classes.

    Returns:
        LongTensor: Shape [batch_size], sorted ascending: the classes whose
        most negative gradient entry is lowest.

    Raises:
        ValueError: If the gradient is not 2-D or ``batch_size`` is outside
            [1, num_classes].
    """
    if fc_weight_grad.dim() != 2:
        raise ValueError(
            'recover_labels: fc_weight_grad must be the final linear '
            'layer\'s weight gradient [num_classes, dim], got shape '
            f'{tuple(fc_weight_grad.shape)}')
    num_classes = fc_weight_grad.shape[0]
    if not 1 <= batch_size <= num_classes:
        raise ValueError(
            f'recover_labels: batch_size must be in [1, {num_classes}] '
            f'(the number of classes; the rule names each class at most '
            f'once), got {batch_size}')
    row_minimum = fc_weight_grad.detach().amin(dim=1)
    return torch.argsort(row_minimum, stable=True)[:batch_size].sort().values


#: Where the labels of an attacked batch come from: ``'recovered'`` from the
#: gradient (:func:`recover_labels`, the paper's attack) or ``'true'`` (the
#: batch's own labels, an upper bound that an attacker does not have).
LABEL_SOURCES = ('recovered', 'true')


def last_linear_weight_index(model: nn.Module,
                             params: Sequence[nn.Parameter]) -> int:
    """Position in ``params`` of the last ``nn.Linear`` layer's weight (the
    classifier whose gradient gives the labels).

    Args:
        model (nn.Module): The attacked classifier.
        params (Sequence[Parameter]): Its trainable parameters, in the
            order of the gradients.

    Returns:
        int: The index of the last ``nn.Linear`` weight in ``params``.

    Raises:
        ValueError: If the model has no ``nn.Linear`` layer or its weight
            is not in ``params`` (frozen).
    """
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError('GradInversion recovers labels from the last '
                         'nn.Linear layer; the model has none. Pass '
                         "labels='true' to use the batch's labels")
    weight = linears[-1].weight
    for index, param in enumerate(params):
        if param is weight:
            return index
    raise ValueError('the last nn.Linear weight is frozen; GradInversion '
                     'needs its gradient to recover the labels')


def attack_labels(
        fc_weight_grad: torch.Tensor, batch_size: int, label_source: str,
        true_labels: Optional[torch.Tensor] = None
) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """The labels an attack uses, and those the gradient gives.

    Args:
        fc_weight_grad (Tensor): The last linear layer's weight gradient
            [num_classes, dim], averaged over the batch.
        batch_size (int): Images in the attacked batch.
        label_source (str): One of :data:`LABEL_SOURCES`.
        true_labels (LongTensor, optional): The batch's labels [batch_size],
            when known.

    Returns:
        tuple[LongTensor, LongTensor | None]: The attack's labels
        [batch_size], and the recovered labels [batch_size] (sorted), or
        None when the batch has more images than there are classes (the
        rule names each class at most once).

    Raises:
        ValueError: An unknown ``label_source``; ``'true'`` without
            ``true_labels``; ``'recovered'`` for a batch larger than the
            number of classes.
    """
    if label_source not in LABEL_SOURCES:
        raise ValueError(f'labels must be one of {LABEL_SOURCES}, got '
                         f'{label_source!r}')
    num_classes = fc_weight_grad.shape[0]
    recovered = recover_labels(fc_weight_grad, batch_size) \
        if batch_size <= num_classes else None
    if label_source == 'true':
        if true_labels is None:
            raise ValueError("labels='true' needs the batch's labels ("
                             "'labels' in a gradients file)")
        return true_labels, recovered
    if recovered is None:
        raise ValueError(
            f'a batch of {batch_size} is larger than the {num_classes} '
            'classes, which the label rule cannot name (it names each '
            f'class once); use batches of at most {num_classes} images, or '
            "set labels='true' to attack with the batch's labels")
    return recovered, recovered
