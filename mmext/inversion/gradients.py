"""The gradients a GradInversion attacker observes, and those of a
candidate batch (Yin et al., "See through Gradients", CVPR 2021, arXiv
2104.07586): the cross-entropy loss of a labelled batch, averaged over the
batch, differentiated with respect to every trainable parameter."""
from typing import List

import torch
from torch import nn


def classifier_logits(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Logits [N, num_classes] of an mmext/mmpretrain-style classifier
    (``model(x, mode='tensor')``) or of a plain module (``model(x)``)."""
    try:
        return model(images, mode='tensor')
    except TypeError:
        return model(images)


def batch_gradients(model: nn.Module,
                    images: torch.Tensor,
                    labels: torch.Tensor,
                    create_graph: bool = False) -> List[torch.Tensor]:
    """``d mean_i CE(f(x_i), y_i) / d theta`` for every trainable parameter.

    Args:
        model (nn.Module): The attacked model (eval mode: BatchNorm uses its
            running statistics, as a client in federated inference does).
        images (Tensor): [N, C, H, W], normalised as the model expects.
        labels (LongTensor): [N].
        create_graph (bool): Keep the graph, to differentiate the gradients
            again (the candidate's side of gradient matching).

    Returns:
        list[Tensor]: One gradient per trainable parameter, in
        ``model.parameters()`` order.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    loss = nn.functional.cross_entropy(
        classifier_logits(model, images), labels)
    return list(
        torch.autograd.grad(loss, params, create_graph=create_graph))
