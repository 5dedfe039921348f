"""Observed gradients: the batch mean of per-sample gradients."""
import torch
from torch import nn

from mmext.inversion.gradients import batch_gradients


def test_batch_gradient_is_the_mean_of_per_sample_gradients():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 5)).eval()
    images, labels = torch.randn(3, 3, 8, 8), torch.tensor([0, 3, 4])
    batch = batch_gradients(model, images, labels)
    singles = [batch_gradients(model, images[i:i + 1], labels[i:i + 1])
               for i in range(3)]
    for j, grad in enumerate(batch):
        torch.testing.assert_close(
            grad, sum(s[j] for s in singles) / 3, rtol=1e-5, atol=1e-7)
    assert len(batch) == len(list(model.parameters()))
    # differentiable with respect to the images when asked
    x = images.clone().requires_grad_(True)
    grads = batch_gradients(model, x, labels, create_graph=True)
    sum(g.pow(2).sum() for g in grads).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
