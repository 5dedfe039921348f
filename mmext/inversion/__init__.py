"""mmext.inversion: recovering training data from models and gradients.

GradInversion (Yin et al., "See through Gradients: Image Batch Recovery via
GradInversion", CVPR 2021, arXiv 2104.07586):

- :mod:`.labels`: label recovery from the last linear layer's gradient,
  and which labels an attack uses;
- :mod:`.gradients`: the averaged gradients of a labelled batch;
- :mod:`.objective`: gradient matching and the image priors;
- :mod:`.registration`: the seeds' registration before their consensus;
- :mod:`.attack`: the optimisation (:class:`GradInversion`);
- :mod:`.targets`: which batches are attacked, or a gradients file, and
  what the attacker observes of each (:class:`InversionTarget`);
- :mod:`.image_metrics`: PSNR, SSIM, FFT-2D distance and batch matching.
"""
from .attack import GradInversion, InversionSettings, valid_range
from .gradients import batch_gradients, classifier_logits
from .image_metrics import fft2d_distance, match_batch_order, psnr, ssim
from .labels import (LABEL_SOURCES, attack_labels, last_linear_weight_index,
                     recover_labels)
from .registration import (group_consensus, phase_correlation_shift,
                           register_translation)
from .targets import (InversionTarget, batch_target, dataset_labels,
                      dataset_target, draw_pool, draw_target_batches,
                      file_target, image_features, load_batch,
                      load_gradients_file)

__all__ = [
    'GradInversion', 'InversionSettings', 'valid_range', 'batch_gradients',
    'classifier_logits', 'fft2d_distance', 'match_batch_order', 'psnr',
    'ssim', 'LABEL_SOURCES', 'attack_labels', 'last_linear_weight_index',
    'recover_labels', 'group_consensus', 'phase_correlation_shift',
    'register_translation', 'InversionTarget', 'batch_target',
    'dataset_labels', 'dataset_target', 'draw_pool', 'draw_target_batches',
    'file_target', 'image_features', 'load_batch', 'load_gradients_file'
]
