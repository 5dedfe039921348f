"""Zero-shot direct inversion (Dong et al., "Deep Neural Networks are
Surprisingly Reversible: A Baseline for Zero-Shot Inversion", arXiv
2107.06304; BMVC 2022 as "Privacy Vulnerability of Split Computing to
Data-Free Model Inversion Attacks"), in plain PyTorch:

- :mod:`.target`: the frozen classifier under attack;
- :mod:`.inverse_block`: one small inverse module per block;
- :mod:`.losses`: the per-block (stage 1) and end-to-end (stage 2) losses;
- :mod:`.synthetic`: training images made without real data;
- :mod:`.evaluate`: timing and scoring methods on the same images.
"""
from .evaluate import InversionScores, time_and_score
from .inverse_block import InverseBlock, upsampling_sizes
from .losses import (block_losses, chain_losses, invert_chain,
                     target_activations)
from .synthetic import bn_synthesized_images, natural_noise_images
from .target import build_target, pixel_normalisation

__all__ = [
    'InversionScores', 'time_and_score', 'InverseBlock', 'upsampling_sizes',
    'block_losses', 'chain_losses', 'invert_chain', 'target_activations',
    'bn_synthesized_images', 'natural_noise_images', 'build_target',
    'pixel_normalisation'
]
