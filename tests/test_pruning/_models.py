"""Small models, latency tables and configs shared by the pruning tests
(plain helpers; the fixtures built on them are in ``conftest.py``)."""
import copy
import importlib.util
import json
import os
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmdet.models.backbones import ResNet
from mmdet.models.necks import FPN
from mmpretrain.models import ImageClassifier
from torch import nn

from mmext.testing.classifiers import resnet18_classifier_cfg

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HALP_CONFIG = osp.join(REPO, 'configs', 'halp',
                       'halp-50_resnet18-w32_1xb64-6e_shapes-64px.py')
EPI_CONFIG = osp.join(REPO, 'configs', 'epi',
                      'epi-50_resnet18-w32_1xb64-12e_shapes-64px.py')
SHAPE = (3, 32, 32)  # tiny-preset crops
ITERS_PER_EPOCH = 8  # tiny preset, batch 8


def resnet18_classifier(width: int = 16, num_classes: int = 5,
                        seed: int = 0) -> ImageClassifier:
    """mmpretrain's ResNet-18 classifier at ``width`` channels (stem and
    first stage), random BN stats."""
    torch.manual_seed(seed)
    model = ImageClassifier(**resnet18_classifier_cfg(width, num_classes))
    randomize_norms(model)
    return model


def randomize_norms(model: nn.Module) -> None:
    """Non-trivial BN affine parameters and running statistics."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)


class Detector(nn.Module):
    """Backbone and FPN, the part of a detector HALP prunes."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.backbone = ResNet(depth=18, base_channels=width)
        self.neck = FPN([width, 2 * width, 4 * width, 8 * width], 16, 5)


def flops_latency(sig, cin: int, cout: int) -> float:
    """A latency proportional to multiply-adds, plus a fixed overhead."""
    cin, cout, groups = sig.active(cin, cout)
    kh, kw = sig.kernel_size
    oh, ow = sig.out_size
    return 1e-6 * sig.batch * cin * cout * kh * kw * oh * ow / groups + 1e-3


def synthetic_lut(signatures, batch: int, step: int, path: str = None):
    """A LUT whose entries follow :func:`flops_latency` on the usual grid."""
    from mmext.pruning.latency import LatencyLUT, latency_jobs
    lut = LatencyLUT(meta=LatencyLUT.make_meta('cpu', batch))
    for sig, cins, couts in latency_jobs(signatures.values(), step=step):
        sig = sig.__class__(**{**sig.__dict__, 'batch': batch})
        for cin in cins:
            for cout in couts:
                lut.add(sig.key(cin, cout), flops_latency(sig, cin, cout))
    if path is not None:
        lut.save(path)
    return lut


def synthetic_latency_model(model: nn.Module, batch: int = 4,
                            step: int = 4):
    """The :class:`~mmext.pruning.latency.LatencyModel` of ``model`` (one
    input of :data:`SHAPE`) over a :func:`synthetic_lut`."""
    from mmext.pruning.latency import LatencyModel
    from mmext.pruning.signatures import scope_signatures
    signatures = scope_signatures(model, None, torch.randn(1, *SHAPE),
                                  batch=batch)
    return LatencyModel(synthetic_lut(signatures, batch, step), signatures)


def make_lut(cfg: Config, path: str) -> None:
    """A synthetic LUT (multiply-add counts) for the config's model, at
    batch 4 on the pruning hook's channel grid."""
    from mmext.apis import init_model
    from mmext.pruning.signatures import scope_signatures
    model = init_model(cfg)
    hook = cfg.custom_hooks[0]
    sigs = scope_signatures(model, None, torch.randn(1, *SHAPE), batch=4)
    synthetic_lut(sigs, batch=4, step=hook['channel_group_size'], path=path)


def tiny_shapes_cfg(config: str, data_root: str, work_dir: str,
                    max_epochs: int) -> Config:
    """A Shapes classifier config on the tiny preset: 8 iterations per
    epoch of 8 crops, the deterministic test pipeline for training, a
    quarter-width ResNet-18, no LR schedule, a checkpoint every epoch."""
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    cfg.load_from = None
    cfg.model.backbone.update(stem_channels=8, base_channels=8)
    cfg.model.head.in_channels = 64
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        loader.dataset.data_root = data_root
        loader.batch_size = 8
        loader.num_workers = 0
        loader.persistent_workers = False
    cfg.train_dataloader.dataset.pipeline = copy.deepcopy(
        cfg.test_dataloader.dataset.pipeline)
    cfg.train_cfg.max_epochs = max_epochs
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    return cfg


def halp_tiny_cfg(data_root: str, work_dir: str | os.PathLike,
                  max_epochs: int = 3, **hook) -> Config:
    """The Shapes HALP config on the tiny preset (:func:`tiny_shapes_cfg`):
    steps after iterations 3, 6, 9 and 12 in blocks of 2 channels, against
    a synthetic LUT at batch 4 in ``work_dir/lut.json``."""
    work_dir = str(work_dir)
    cfg = tiny_shapes_cfg(HALP_CONFIG, data_root, work_dir, max_epochs)
    cfg.custom_hooks = [
        dict(cfg.custom_hooks[0],
             input_shape=SHAPE, start=1, interval=3, num_steps=4,
             channel_group_size=2, latency_batch=4,
             lut=osp.join(work_dir, 'lut.json'), **hook)
    ]
    os.makedirs(work_dir, exist_ok=True)
    if not osp.exists(cfg.custom_hooks[0]['lut']):
        make_lut(cfg, cfg.custom_hooks[0]['lut'])
    return cfg


def epi_tiny_cfg(data_root: str, work_dir: str | os.PathLike,
                 max_epochs: int = 3, **hook) -> Config:
    """The Shapes EPI config on the tiny preset (:func:`tiny_shapes_cfg`),
    EPI every 2 iterations over a window of 2."""
    cfg = tiny_shapes_cfg(EPI_CONFIG, data_root, str(work_dir), max_epochs)
    settings = dict(
        input_shape=SHAPE,
        interval=2,
        window=2,
        patience=1,
        tau=0.0,
        latest_epoch=2)
    settings.update(hook)
    cfg.custom_hooks = [dict(cfg.custom_hooks[0], **settings)]
    return cfg


def find_hook(runner, name: str):
    """The runner's hook of class ``name``."""
    return next(h for h in runner.hooks if type(h).__name__ == name)


def pruning_tool(name: str):
    """The module of ``tools/pruning/<name>.py``."""
    path = osp.join(REPO, 'tools', 'pruning', f'{name}.py')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def export_and_test(cfg: Config, checkpoint: str, tmp_path) -> tuple:
    """Export ``checkpoint`` of ``cfg`` with ``tools/pruning/export_pruned``;
    return its report and the slim config's metric under a test Runner
    (which loaded ``pruned.pth``, strictly checked)."""
    cfg_path = str(tmp_path / 'cfg.py')
    cfg.dump(cfg_path)
    out = str(tmp_path / 'export')
    tool = pruning_tool('export_pruned')
    assert tool.main([cfg_path, checkpoint, '--out', out, '--repeats',
                      '2']) == 0
    report = json.load(open(osp.join(out, 'export.json')))
    slim_cfg = Config.fromfile(osp.join(out, 'cfg_pruned.py'))
    assert slim_cfg.model.type == 'mmext.PrunedModel'
    assert not slim_cfg.custom_hooks
    slim_cfg.work_dir = str(tmp_path / 'slim_test')
    slim_cfg.load_from = osp.join(out, 'pruned.pth')
    tester = Runner.from_cfg(slim_cfg)
    metric = tester.test()
    state = torch.load(osp.join(out, 'pruned.pth'), weights_only=False)
    tester.model.load_state_dict(state['state_dict'], strict=True)
    return report, metric
