"""Shrink a training config to a one-epoch run on tiny data, for tests that
train through a real MMEngine Runner."""
from mmengine.config import Config


def one_epoch_on(cfg: Config, data_root: str, work_dir: str,
                 batch_size: int = 2) -> Config:
    """Train ``cfg`` for one epoch on ``data_root``, in place.

    The training dataloader reads ``data_root`` in the main process with
    ``batch_size``; validation and testing are switched off, the
    learning-rate schedule removed, every iteration logged, a checkpoint
    saved after the epoch, and the seed fixed to 0.

    Args:
        cfg: A training config.
        data_root: The training set's data root (e.g. the tiny Shapes set).
        work_dir: The run's work dir.
        batch_size: Images per iteration.

    Returns:
        ``cfg``.
    """
    cfg.work_dir = work_dir
    loader = cfg.train_dataloader
    loader.dataset.data_root = data_root
    loader.batch_size = batch_size
    loader.num_workers = 0
    loader.persistent_workers = False
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)
    for key in ('val', 'test'):
        cfg[f'{key}_cfg'] = None
        cfg[f'{key}_dataloader'] = None
        cfg[f'{key}_evaluator'] = None
    cfg.param_scheduler = []
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.randomness = dict(seed=0)
    return cfg
