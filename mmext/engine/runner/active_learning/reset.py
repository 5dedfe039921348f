"""Start an active-learning cycle afresh: new weights (as Elezi et al.,
CVPR 2022, arXiv 2106.11921, rebuild the detector from its ImageNet start
every cycle), an optimizer without state at its initial learning rate.
"""
from mmengine.dist import broadcast
from mmengine.model import BaseModule
from mmengine.optim import OptimWrapper
from torch import nn


def reinitialise(model: nn.Module) -> None:
    """Draw new weights as a freshly built model would get them.

    Every layer's own ``reset_parameters`` runs first (PyTorch's default
    initialisation), then MMEngine's ``init_weights`` again (``init_cfg``:
    pretrained backbones are reloaded); rank 0's weights are broadcast.

    Args:
        model: The model (not wrapped for DDP).
    """
    for module in model.modules():
        if hasattr(module, 'reset_parameters'):
            module.reset_parameters()
        if isinstance(module, BaseModule):
            module._is_init = False
    if hasattr(model, 'init_weights'):
        model.init_weights()
    for tensor in model.state_dict().values():
        broadcast(tensor)


def restart_optimizer(optim_wrapper: OptimWrapper) -> None:
    """Clear the optimizer's state (momenta, Adam moments) and put every
    scheduled hyper-parameter back to its initial value.

    MMEngine's parameter schedulers record ``initial_<name>`` in each param
    group when first built; restoring those lets freshly built schedulers
    start the schedule over.
    """
    optimizer = optim_wrapper.optimizer
    optimizer.state.clear()
    for group in optimizer.param_groups:
        for key in [k for k in group if k.startswith('initial_')]:
            group[key[len('initial_'):]] = group[key]
