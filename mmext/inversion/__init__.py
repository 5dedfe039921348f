"""mmext.inversion: recovering training data from models and gradients.

GradInversion (Yin et al., "See through Gradients: Image Batch Recovery via
GradInversion", CVPR 2021, arXiv 2104.07586):

- :mod:`.labels`: label recovery from the last linear layer's gradient,
  and which labels an attack uses;
- :mod:`.gradients`: the averaged gradients of a labelled batch;
- :mod:`.objective`: gradient matching and the image priors;
- :mod:`.registration`: the seeds' registration before their consensus;
- :mod:`.attack`: the optimisation (:class:`GradInversion`), whose seeds
  run in a loop, batched (:mod:`.batched`), on threads
  (:mod:`.seed_workers`) or in one pooled forward (:mod:`.pooled`,
  whose layers' backward forms input gradients only:
  :mod:`.input_gradients`);
- :mod:`.targets`: which batches are attacked, or a gradients file, and
  what the attacker observes of each (:class:`InversionTarget`);
- :mod:`.image_metrics`: PSNR, SSIM, FFT-2D distance and batch matching.

Zero-shot direct inversion (Dong et al., "Deep Neural Networks are
Surprisingly Reversible: A Baseline for Zero-Shot Inversion", arXiv
2107.06304):

- :mod:`.split`: the blocks of a classifier up to a split layer;
- :mod:`.direct`: the inverse blocks, their losses, the frozen target and
  the synthetic training images;
- :mod:`.feature_inversion`: the optimisation baseline of direct inversion
  (:func:`invert_features`).
"""
from .attack import GradInversion, InversionSettings, valid_range
from .feature_inversion import invert_features
from .gradients import batch_gradients, classifier_logits
from .image_metrics import fft2d_distance, match_batch_order, psnr, ssim
from .labels import (LABEL_SOURCES, attack_labels, last_linear_weight_index,
                     recover_labels)
from .split import (blocks_until, classifier_blocks, split_forward,
                    split_names)
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
    'file_target', 'image_features', 'load_batch', 'load_gradients_file',
    'blocks_until', 'classifier_blocks', 'split_forward', 'split_names',
    'invert_features'
]
