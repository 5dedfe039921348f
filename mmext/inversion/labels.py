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
import torch


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
