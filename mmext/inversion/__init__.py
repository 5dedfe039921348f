"""mmext.inversion: recovering training data from models and gradients.

GradInversion (Yin et al., "See through Gradients: Image Batch Recovery via
GradInversion", CVPR 2021, arXiv 2104.07586):

- :mod:`.labels`: label recovery from the last linear layer's gradient;
- :mod:`.gradients`: the averaged gradients of a labelled batch;
- :mod:`.objective`: gradient matching and the image priors;
- :mod:`.registration`: the seeds' registration before their consensus;
- :mod:`.attack`: the optimisation (:class:`GradInversion`);
- :mod:`.targets`: which batches are attacked, or a gradients file;
- :mod:`.image_metrics`: PSNR, SSIM, FFT-2D distance and batch matching.
"""
from .attack import GradInversion, InversionSettings, valid_range
from .gradients import batch_gradients, classifier_logits
from .image_metrics import fft2d_distance, match_batch_order, psnr, ssim
from .labels import recover_labels
from .registration import (group_consensus, phase_correlation_shift,
                           register_translation)
from .targets import (dataset_labels, draw_target_batches, load_batch,
                      load_gradients_file)

__all__ = [
    'GradInversion', 'InversionSettings', 'valid_range', 'batch_gradients',
    'classifier_logits', 'fft2d_distance', 'match_batch_order', 'psnr',
    'ssim', 'recover_labels', 'group_consensus', 'phase_correlation_shift',
    'register_translation', 'dataset_labels', 'draw_target_batches',
    'load_batch', 'load_gradients_file'
]
