"""One config-to-model builder for every tool.

:func:`init_model` follows the convention of mmdet's ``init_detector`` and
mmseg's ``init_model``: a config (path or :class:`~mmengine.config.Config`),
an optional checkpoint, a device, and ``--cfg-options`` overrides.

Example::

    from mmext.apis import init_model
    model = init_model(
        'configs/segformer/segformer_mit-b0_1xb16-1600it_shapes-128x128.py',
        'work_dirs/segformer_mit-b0_1xb16-1600it_shapes-128x128/iter_1600.pth')
    model.dataset_meta['classes']  # from the checkpoint
"""
import copy
import os.path as osp
from typing import Any, Optional, Tuple, Union

from mmengine.config import Config
from torch import nn

__all__ = [
    'build_test_dataset', 'init_model', 'init_model_and_test_dataset',
    'load_config', 'model_config', 'sample_test_batch'
]


def load_config(config: Union[str, Config],
                cfg_options: Optional[dict] = None) -> Config:
    """A config from a path, ``package::path`` or a Config (deep-copied).

    Args:
        config (str | Config): Config file, ``'mmdet::path.py'`` of an
            installed OpenMMLab package, or a loaded config (not changed).
        cfg_options (dict, optional): Overrides merged into it, as
            ``--cfg-options`` does: dotted keys such as
            ``{'model.backbone.init_cfg': None}``.

    Returns:
        Config: A config that the caller may change freely.

    Raises:
        FileNotFoundError: If the file does not exist.
        TypeError: If ``config`` is neither a path nor a Config.
    """
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
    elif isinstance(config, str):
        if '::' in config:
            from mmengine.hub import get_config
            cfg = get_config(config)
        else:
            if not osp.isfile(config):
                raise FileNotFoundError(
                    f'config: no file {config!r}; pass a config file (e.g. '
                    'one under configs/) or a mmengine Config')
            cfg = Config.fromfile(config)
    else:
        raise TypeError('config: must be a file path or a mmengine Config, '
                        f'got {type(config).__name__}')
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def model_config(cfg: Config) -> dict:
    """``cfg.model`` with the config's top-level ``data_preprocessor``
    merged in, as MMEngine's Runner builds it.

    mmpretrain's configs (and mmext's classification configs) set the data
    preprocessor beside the model; a ``data_preprocessor`` inside
    ``model`` wins.

    Args:
        cfg (Config): A full config; not changed.

    Returns:
        dict: A copy of the model config.
    """
    model = copy.deepcopy(cfg.model)
    top_level = cfg.get('data_preprocessor', None)
    if top_level is not None and isinstance(model, dict):
        model.setdefault('data_preprocessor', copy.deepcopy(top_level))
    return model


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None,
               strict: bool = False) -> nn.Module:
    """Build ``cfg.model`` under its default scope and load a checkpoint.

    The config's ``custom_imports`` are imported and its ``default_scope``
    (``'mmext'`` when unset; override it with
    ``cfg_options={'default_scope': 'mmdet'}`` for a model-only config) is
    made current, so ``type='X'`` resolves in the host library and
    ``type='mmext.X'`` in mmext, and a top-level ``data_preprocessor``
    (mmpretrain's convention) joins the model, exactly as in the runner.
    Backbone ``init_cfg`` weight downloads are skipped when a checkpoint is
    given (its weights replace them anyway). The checkpoint's
    ``meta.dataset_meta`` becomes ``model.dataset_meta``; the config is kept
    as ``model.cfg``. SyncBN layers become BN on the CPU.

    Args:
        config (str | Config): Config file, ``'pkg::path.py'`` or Config
            (not changed).
        checkpoint (str, optional): A ``.pth`` written by MMEngine (or a
            converted one), or a URL. None keeps the initial weights.
        device (str): Where the model goes. Defaults to ``'cpu'``.
        cfg_options (dict, optional): Overrides merged into the config
            (dotted keys, as ``--cfg-options``), e.g.
            ``{'model.train_cfg': None}``.
        strict (bool): Whether every checkpoint key must match the model.
            Defaults to False, as mmdet's and mmseg's builders.

    Returns:
        nn.Module: The model, in eval mode, on ``device``.

    Raises:
        FileNotFoundError: If ``config`` or ``checkpoint`` is a missing
            local file.
        ValueError: If the config has no ``model``.
        RuntimeError: With ``strict=True``, if the checkpoint's keys or
            shapes differ from the model's (MMEngine's message lists them).
    """
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS, init_default_scope
    from mmengine.runner import load_checkpoint
    from mmengine.utils import import_modules_from_strings

    cfg = load_config(config, cfg_options)
    if cfg.get('model', None) is None:
        raise ValueError(
            f'model: the config {cfg.filename or config!r} defines no model; '
            'pass a full config (one with model=dict(type=...)), not a '
            'dataset or schedule part')
    if checkpoint is not None and '://' not in checkpoint and \
            not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'checkpoint: no file {checkpoint!r}; pass a .pth written by '
            'tools/train.py (work_dirs/<config>/epoch_N.pth or iter_N.pth) '
            'or leave it out for initial weights')
    imports = cfg.get('custom_imports', None)
    if imports:
        import_modules_from_strings(**imports)
    init_default_scope(cfg.get('default_scope', 'mmext'))
    if checkpoint is not None:
        _skip_pretrained(cfg.model)
    model = MODELS.build(model_config(cfg))
    if checkpoint is not None:
        loaded = load_checkpoint(model, checkpoint, map_location='cpu',
                                 strict=strict, logger='silent')
        meta = loaded.get('meta', {}) if isinstance(loaded, dict) else {}
        if isinstance(meta, dict) and 'dataset_meta' in meta:
            model.dataset_meta = meta['dataset_meta']
    model.cfg = cfg
    if device == 'cpu':
        model = revert_sync_batchnorm(model)
    return model.to(device).eval()


def _skip_pretrained(model_cfg) -> None:
    """Drop pretrained-weight downloads from a model config in place."""
    for part in ('backbone', 'teacher', 'student'):
        sub = model_cfg.get(part, None)
        if isinstance(sub, dict) and 'init_cfg' in sub:
            sub['init_cfg'] = None
    if 'pretrained' in model_cfg:
        model_cfg['pretrained'] = None


def build_test_dataset(config: Union[str, Config],
                       cfg_options: Optional[dict] = None) -> Any:
    """Build the config's ``test_dataloader.dataset`` in its default scope.

    Args:
        config (str | Config): Config file, ``'pkg::path.py'`` or Config
            (not changed).
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        The data set (``'mmext'`` is the scope when the config sets none).
    """
    from mmengine.registry import DATASETS, DefaultScope

    cfg = load_config(config, cfg_options)
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmext')):
        return DATASETS.build(cfg.test_dataloader.dataset)


def init_model_and_test_dataset(config: Union[str, Config],
                                checkpoint: Optional[str] = None,
                                device: Optional[str] = None,
                                cfg_options: Optional[dict] = None
                                ) -> Tuple[nn.Module, Any]:
    """A trained model and the test set of its config, for tools that run
    the model on the config's test data (``tools/mvs/``).

    Args:
        config (str | Config): Config file, ``'pkg::path.py'`` or Config
            (not changed).
        checkpoint (str, optional): The weights (:func:`init_model`).
        device (str, optional): Where the model goes; None: ``'cuda'`` if
            available, else ``'cpu'``.
        cfg_options (dict, optional): Overrides merged into the config
            (``--cfg-options``), for the model and the data set alike.

    Returns:
        tuple: The model (:func:`init_model`, in eval mode) and the data set
        (:func:`build_test_dataset`).

    Raises:
        FileNotFoundError: If ``config`` or ``checkpoint`` is a missing
            local file.
    """
    import torch

    cfg = load_config(config, cfg_options)
    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model = init_model(cfg, checkpoint, device=device)
    return model, build_test_dataset(cfg)


def sample_test_batch(config: Union[str, Config], num_images: int,
                      seed: int = 0) -> dict:
    """``num_images`` items of the config's test set, drawn without
    replacement (seeded) and collated, ready for the model's
    ``data_preprocessor``.

    Args:
        config (str | Config): The config whose ``test_dataloader.dataset``
            is drawn from (built in the config's default scope).
        num_images (int): How many items.
        seed (int): Seed of the draw.

    Returns:
        dict: ``pseudo_collate`` of the items (``inputs``, ``data_samples``).

    Raises:
        ValueError: The test set has fewer than ``num_images`` items.
    """
    import torch
    from mmengine.dataset import pseudo_collate

    dataset = build_test_dataset(config)
    if num_images > len(dataset):
        raise ValueError(f'num_images={num_images}: the test set has '
                         f'{len(dataset)} items')
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(dataset), generator=generator)[:num_images]
    return pseudo_collate([dataset[int(i)] for i in order])
