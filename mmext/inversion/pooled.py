"""GradInversion's seeds in one pooled forward, each seed's cosine gradient
distance from per-layer products (Yin et al., "See through Gradients: Image
Batch Recovery via GradInversion", CVPR 2021, arXiv 2104.07586, Sec. 3: |G|
candidate batches, each matched to the observed gradient on its own).

The cosine distance of seed ``s`` (:func:`.objective.cosine_gradient_distance`)
needs only two numbers of its weight gradient ``g_s``: ``<g_s, dW>`` and
``||g_s||^2``, each a sum over the trainable parameters. For a victim in
eval mode (BatchNorm on its running statistics, no layer that mixes the
images of a batch) every image's forward and backward are its own. So one
forward of all G x N images, and one backward of the sum of the seeds'
losses (each the mean cross-entropy over its N images), give every image
exactly the gradient it has in its own seed at every layer output
``dy = dL/dy``. From those and each layer's input ``x``:

- **Convolution and linear weights.** ``<g_s, T>`` is
  ``sum_{n in s} <dy_n, conv(x_n, T)>``: one pooled convolution (matrix
  product) with the target ``T`` as its weights. ``||g_s||^2`` comes either
  from ``g_s`` itself, the layer's weight gradient over the seed's images
  (where weights are small: early layers), or, where the seed has few
  output positions ``P`` (late layers), from ``P x P`` Gram matrices,
  ``sum_ij (dy_i . dy_j)(u_i . u_j)`` over the unfolded input patches
  ``u`` (Goodfellow, "Efficient Per-Example Gradient Computations", arXiv
  1510.01799; the "ghost norm" of Li et al., ICLR 2022, arXiv 2110.05679),
  without forming ``g_s``. :func:`uses_gram_matrices` picks whichever
  costs fewer multiplications.
- **Biases and BatchNorm scales.** Per-seed sums of ``dy`` and of
  ``dy * x_hat``, ``x_hat`` the input normalised by the running
  statistics.

All of it stays differentiable with respect to the images, and equals the
per-seed gradients' products up to rounding (the tests compare with the
loop in float64). The victim's weight gradients of the late layers, the
largest tensors of the attack (590k entries for one 256-channel 3x3
convolution), are never formed per seed.

The pooled forward runs the victim's convolutions and BatchNorm layers
with a backward that forms input gradients only
(:mod:`.input_gradients`): the ``dy`` pass needs no weight gradient, and
its double backward then skips the pooled weight-gradient convolution that
PyTorch's convolution double backward forms at every layer.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .gradients import classifier_logits
from .input_gradients import input_gradient_forwards

#: Layer types whose trainable parameters the pooled path handles (and
#: subclasses that keep their ``forward``).
POOLED_LAYERS = (nn.Conv2d, nn.Linear, nn.modules.batchnorm._BatchNorm)


def pooled_layer_type(module: nn.Module) -> Optional[type]:
    """The :data:`POOLED_LAYERS` type whose maths ``module`` follows: its
    own class or an ancestor whose ``forward`` it keeps (a subclass that
    changes ``forward``, such as a weight-standardised convolution, has
    other gradients); None for any other module."""
    if isinstance(module, nn.SyncBatchNorm):
        # Its own forward; in eval mode that of BatchNorm.
        return nn.modules.batchnorm._BatchNorm
    for layer_type in POOLED_LAYERS:
        if isinstance(module, layer_type) and \
                type(module).forward is layer_type.forward:
            return layer_type
    return None


def pads_with_zeros(conv: nn.Conv2d) -> bool:
    """Whether ``conv`` pads with numeric padding and
    ``padding_mode='zeros'``, the padding the pooled maths reproduce."""
    return conv.padding_mode == 'zeros' and not isinstance(conv.padding, str)


def has_running_statistics(norm: nn.modules.batchnorm._BatchNorm) -> bool:
    """Whether ``norm`` keeps running statistics to normalise with in eval
    mode (without them it normalises every batch with its own)."""
    return norm.running_mean is not None and norm.running_var is not None


def pooled_unsupported_reason(model: nn.Module) -> Optional[str]:
    """Why the pooled path cannot evaluate ``model``'s seeds, or None.

    Args:
        model (nn.Module): The attacked classifier.

    Returns:
        str, optional: A sentence naming the module that prevents it.
    """
    if any(module.training for module in model.modules()):
        return ('the victim is in training mode (call model.eval(): in '
                'training mode BatchNorm mixes the images of a batch)')
    owners: Dict[int, str] = {}
    for name, module in model.named_modules():
        trainable = [
            p for p in module.parameters(recurse=False) if p.requires_grad
        ]
        if not trainable:
            continue
        if pooled_layer_type(module) is None:
            return (f'{name or "the model"} ({type(module).__name__}) holds '
                    'trainable parameters; the pooled path handles Conv2d, '
                    'Linear and BatchNorm layers (and subclasses that keep '
                    'their forward) only')
        for param in trainable:
            if id(param) in owners:
                return (f'{name} shares a parameter with {owners[id(param)]}'
                        '; the pooled path needs one layer per parameter')
            owners[id(param)] = name
        if isinstance(module, nn.Conv2d) and not pads_with_zeros(module):
            return (f'{name} pads with padding={module.padding!r}, '
                    f'padding_mode={module.padding_mode!r}; the pooled path '
                    "handles numeric padding with padding_mode='zeros' only")
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and \
                not has_running_statistics(module):
            return (f'{name} has no running statistics; the pooled path '
                    'needs BatchNorm that normalises with them')
    return None


def input_gradient_layers(model: nn.Module) -> List[nn.Module]:
    """The victim's layers that the pooled forward runs with an input-only
    backward (:func:`.input_gradients.input_gradient_forwards`), trainable
    or not: Conv2d with numeric zero padding, BatchNorm in eval mode with
    running statistics."""
    layers = []
    for module in model.modules():
        layer_type = pooled_layer_type(module)
        if layer_type is nn.Conv2d and pads_with_zeros(module):
            layers.append(module)
        elif layer_type is nn.modules.batchnorm._BatchNorm and \
                not module.training and has_running_statistics(module):
            layers.append(module)
    return layers


def seed_sums(values: torch.Tensor, seeds: int) -> torch.Tensor:
    """Sum everything of each seed's rows.

    Args:
        values (Tensor): [G * N, ...], seed ``s`` in rows ``s*N ... s*N+N-1``.
        seeds (int): G.

    Returns:
        Tensor: [G].
    """
    return values.reshape(seeds, -1).sum(1)


def channel_seed_sums(values: torch.Tensor, seeds: int) -> torch.Tensor:
    """Per seed and channel, the sum over the seed's images and positions.

    Args:
        values (Tensor): [G * N, C, *spatial].
        seeds (int): G.

    Returns:
        Tensor: [G, C].
    """
    per_seed = values.reshape(seeds, -1, values.shape[1],
                              values[0, 0].numel())
    return per_seed.sum((1, 3))


def gram_square_norm(patches: torch.Tensor,
                     grad_outputs: torch.Tensor) -> torch.Tensor:
    """``||sum_i dy_i u_i^T||_F^2 = sum_ij (dy_i . dy_j)(u_i . u_j)`` per seed.

    Args:
        patches (Tensor): [G, P, K] the inputs ``u_i`` at the seed's P
            output positions.
        grad_outputs (Tensor): [G, P, C_out] the output gradients ``dy_i``.

    Returns:
        Tensor: [G].
    """
    return (torch.bmm(patches, patches.transpose(1, 2)) *
            torch.bmm(grad_outputs, grad_outputs.transpose(1, 2))).sum((1, 2))


def uses_gram_matrices(positions: int, fan_in: int, fan_out: int) -> bool:
    """Whether Gram matrices of a seed's ``P`` output positions give its
    squared weight-gradient norm with fewer multiplications than the
    gradient itself: ``P^2 (K + C_out) < P K C_out``."""
    return positions * (fan_in + fan_out) < fan_in * fan_out


def vector_products(gradient: torch.Tensor, target: torch.Tensor
                    ) -> Tuple[torch.Tensor, torch.Tensor]:
    """``<g_s, t>`` and ``||g_s||^2`` of per-seed gradients [G, C] of a
    parameter [C] (a bias, a BatchNorm scale), [G] each."""
    return gradient @ target, gradient.pow(2).sum(1)


def conv_weight_products(conv: nn.Conv2d, inputs: torch.Tensor,
                         grad_outputs: torch.Tensor, target: torch.Tensor,
                         seeds: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """``<g_s, T>`` and ``||g_s||^2`` of a convolution's weight per seed.

    Args:
        conv (nn.Conv2d): The layer.
        inputs (Tensor): Its input [G * N, C_in, H, W].
        grad_outputs (Tensor): ``dL/dy`` [G * N, C_out, H', W'].
        target (Tensor): The observed weight gradient, the weight's shape.
        seeds (int): G.

    Returns:
        tuple[Tensor, Tensor]: [G] each.
    """
    images = inputs.shape[0] // seeds
    positions = images * grad_outputs[0, 0].numel()
    fan_in = target[0].numel()
    if conv.groups == 1 and uses_gram_matrices(positions, fan_in,
                                               target.shape[0]):
        projected = F.conv2d(inputs, target, None, conv.stride, conv.padding,
                             conv.dilation)
        dot = seed_sums(grad_outputs * projected, seeds)
        patches = F.unfold(inputs, conv.kernel_size, conv.dilation,
                           conv.padding, conv.stride)  # [GN, K, L]
        patches = patches.transpose(1, 2).reshape(seeds, positions, fan_in)
        outputs = grad_outputs.flatten(2).transpose(1, 2).reshape(
            seeds, positions, -1)
        return dot, gram_square_norm(patches, outputs)
    gradients = torch.stack([
        torch.ops.aten.convolution_backward(
            seed_grad, seed_input, conv.weight, None, conv.stride,
            conv.padding, conv.dilation, False, [0, 0], conv.groups,
            [False, True, False])[1]
        for seed_grad, seed_input in zip(
            grad_outputs.chunk(seeds), inputs.chunk(seeds))
    ]).flatten(1)  # [G, weight entries], differentiable (double backward)
    return gradients @ target.flatten(), gradients.pow(2).sum(1)


def linear_weight_products(linear: nn.Linear, inputs: torch.Tensor,
                           grad_outputs: torch.Tensor, target: torch.Tensor,
                           seeds: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """``<g_s, T>`` and ``||g_s||^2`` of a linear layer's weight per seed.

    Args:
        linear (nn.Linear): The layer.
        inputs (Tensor): Its input [G * N, ..., in].
        grad_outputs (Tensor): ``dL/dy`` [G * N, ..., out].
        target (Tensor): The observed weight gradient [out, in].
        seeds (int): G.

    Returns:
        tuple[Tensor, Tensor]: [G] each.
    """
    dot = seed_sums(grad_outputs * (inputs @ target.t()), seeds)
    rows = inputs.reshape(seeds, -1, linear.in_features)
    grads = grad_outputs.reshape(seeds, -1, linear.out_features)
    if uses_gram_matrices(rows.shape[1], linear.in_features,
                          linear.out_features):
        return dot, gram_square_norm(rows, grads)
    return dot, torch.bmm(grads.transpose(1, 2), rows).pow(2).sum((1, 2))


def norm_scale_products(norm: nn.modules.batchnorm._BatchNorm,
                        inputs: torch.Tensor, grad_outputs: torch.Tensor,
                        output_sums: torch.Tensor, target: torch.Tensor
                        ) -> Tuple[torch.Tensor, torch.Tensor]:
    """``<g_s, t>`` and ``||g_s||^2`` of an eval-mode BatchNorm's scale.

    Its gradient is ``sum dy * x_hat`` over a seed's images and positions,
    with ``x_hat = (x - running_mean) * r``, ``r = (running_var +
    eps)^(-1/2)``; computed as ``r * (sum dy * x - running_mean * sum dy)``
    so that ``x_hat`` is never formed.

    Args:
        norm (_BatchNorm): The layer (running statistics).
        inputs (Tensor): Its input [G * N, C, *spatial].
        grad_outputs (Tensor): ``dL/dy``, same shape.
        output_sums (Tensor): ``sum dy`` per seed and channel [G, C]
            (:func:`channel_seed_sums`).
        target (Tensor): The observed scale gradient [C].

    Returns:
        tuple[Tensor, Tensor]: [G] each.
    """
    seeds = output_sums.shape[0]
    gradient = (channel_seed_sums(grad_outputs * inputs, seeds) -
                norm.running_mean * output_sums) * (
                    norm.running_var + norm.eps).rsqrt()
    return vector_products(gradient, target)


#: The weight's products of each convolution and linear layer type.
WEIGHT_PRODUCTS = {
    nn.Conv2d: conv_weight_products,
    nn.Linear: linear_weight_products,
}


def layer_products(module: nn.Module, inputs: torch.Tensor,
                   grad_outputs: torch.Tensor,
                   targets: Dict[int, torch.Tensor],
                   seeds: int) -> List[Tuple[torch.Tensor, torch.Tensor]]:
    """The ``(<g_s, t>, ||g_s||^2)`` pairs of one layer's trainable
    parameters (weight, then bias), each [G].

    Args:
        module (nn.Module): A layer of :data:`POOLED_LAYERS`.
        inputs (Tensor): Its input [G * N, ...].
        grad_outputs (Tensor): ``dL/dy`` of its output.
        targets (dict[int, Tensor]): ``id(parameter)`` -> observed gradient.
        seeds (int): G.
    """
    weight, bias = module.weight, getattr(module, 'bias', None)
    is_norm = isinstance(module, nn.modules.batchnorm._BatchNorm)
    output_sums = None  # sum of dy per seed and channel: bias, BN scale
    if is_norm or (bias is not None and bias.requires_grad):
        channels_first = grad_outputs
        if isinstance(module, nn.Linear):  # [GN, ..., out] -> [GN, out, P]
            channels_first = grad_outputs.reshape(
                grad_outputs.shape[0], -1, module.out_features).transpose(
                    1, 2)
        output_sums = channel_seed_sums(channels_first, seeds)
    products = []
    if weight is not None and weight.requires_grad:
        if is_norm:
            products.append(
                norm_scale_products(module, inputs, grad_outputs,
                                    output_sums, targets[id(weight)]))
        else:
            products.append(WEIGHT_PRODUCTS[pooled_layer_type(module)](
                module, inputs, grad_outputs, targets[id(weight)], seeds))
    if bias is not None and bias.requires_grad:
        products.append(vector_products(output_sums, targets[id(bias)]))
    return products


def pooled_gradient_products(
        model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
        targets: Sequence[torch.Tensor]
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Every seed's ``<g_s, dW>`` and ``||g_s||^2`` from one pooled forward.

    ``g_s = d mean_n CE(f(x_{s,n}), y_n) / d theta`` is seed ``s``'s
    gradient (:func:`mmext.inversion.batch_gradients`), ``dW`` the observed
    one; both sums run over every trainable parameter.

    Args:
        model (nn.Module): The attacked classifier, in eval mode, its
            trainable parameters in :data:`POOLED_LAYERS` layers
            (:func:`pooled_unsupported_reason`).
        images (Tensor): The seeds' candidate batches [G, N, C, H, W].
        labels (LongTensor): [N], the same for every seed.
        targets (Sequence[Tensor]): The observed gradients, one per
            trainable parameter in ``model.parameters()`` order.

    Returns:
        tuple[Tensor, Tensor]: ``(dot, square)``, [G] each, differentiable
        with respect to ``images``.

    Raises:
        ValueError: If a layer runs more than once in the forward (shared
            weights), where the per-layer products would not add up.
    """
    seeds, batch = images.shape[:2]
    params = [p for p in model.parameters() if p.requires_grad]
    by_id = {id(p): t for p, t in zip(params, targets)}
    layers = [
        m for m in model.modules()
        if any(p.requires_grad for p in m.parameters(recurse=False))
    ]
    seen: Dict[nn.Module, Tuple[torch.Tensor, torch.Tensor]] = {}

    def record(module: nn.Module, inputs: Tuple[torch.Tensor, ...],
               output: torch.Tensor) -> torch.Tensor:
        if module in seen:
            raise ValueError(
                f'attack.pooled_seeds: {type(module).__name__} runs more '
                'than once in the forward (shared weights); set '
                'attack.pooled_seeds=False')
        seen[module] = (inputs[0], output)
        # The model goes on with a copy: an in-place operation after the
        # layer (ReLU(inplace=True)) must not change the recorded output.
        return output.clone()

    handles = [m.register_forward_hook(record) for m in layers]
    try:
        with input_gradient_forwards(input_gradient_layers(model)):
            logits = classifier_logits(model, images.flatten(0, 1))
    finally:
        for handle in handles:
            handle.remove()
    loss = F.cross_entropy(
        logits, labels.repeat(seeds), reduction='sum') / batch
    grad_outputs = torch.autograd.grad(
        loss, [seen[m][1] for m in layers], create_graph=True)
    dot = square = images.new_zeros(seeds)
    for module, grads in zip(layers, grad_outputs):
        for layer_dot, layer_square in layer_products(
                module, seen[module][0], grads, by_id, seeds):
            dot = dot + layer_dot
            square = square + layer_square
    return dot, square
