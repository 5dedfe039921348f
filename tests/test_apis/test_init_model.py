"""mmext.apis.init_model: the config-to-model builder of every tool, on the
mmpretrain-scope Shapes classifier config and an mmseg-scope segmentor
written here."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from torch import nn

from mmext.apis import init_model

CLASSES = ('a', 'b', 'c', 'd')
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLS_CONFIG = osp.join(REPO, 'configs', 'shapes',
                      'cls_resnet18-w32_1xb64-12e_shapes-64px.py')
#: The classifier config at width 4 with four classes.
SMALL = {
    'model.backbone.stem_channels': 4,
    'model.backbone.base_channels': 4,
    'model.head.in_channels': 32,
    'model.head.num_classes': len(CLASSES)
}


def _classifier_cfg() -> Config:
    """An mmpretrain-scope config: the Shapes classifier (mmpretrain's
    ImageClassifier, its data preprocessor at the top level) at width 4,
    with a pretrained-weights init_cfg that must not be downloaded."""
    cfg = Config.fromfile(CLS_CONFIG)
    cfg.merge_from_dict(SMALL)
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint='torchvision://resnet18')
    return cfg


def _segmentor_cfg() -> Config:
    """An mmseg-scope config: mmseg's EncoderDecoder around a tiny mmext
    MiT and SegFormer head (SyncBN, as the SegFormer configs)."""
    return Config(
        dict(
            default_scope='mmseg',
            custom_imports=dict(imports=['mmext'],
                                allow_failed_imports=False),
            model=dict(
                type='EncoderDecoder',
                data_preprocessor=dict(
                    type='SegDataPreProcessor',
                    mean=[123.675, 116.28, 103.53],
                    std=[58.395, 57.12, 57.375]),
                backbone=dict(
                    type='mmext.MiT',
                    embed_dims=(8, 8, 8, 8),
                    depths=(1, 1, 1, 1),
                    num_heads=(1, 1, 1, 1)),
                decode_head=dict(
                    type='mmext.SegFormerHead',
                    in_channels=[8, 8, 8, 8],
                    in_index=[0, 1, 2, 3],
                    channels=8,
                    num_classes=3,
                    norm_cfg=dict(type='SyncBN', requires_grad=True)),
                train_cfg=dict(),
                test_cfg=dict(mode='whole'))))


def _changed_checkpoint(cfg: Config, path: str) -> dict:
    """Save a checkpoint of ``cfg``'s model whose weights differ from a new
    build's; return its state dict."""
    torch.manual_seed(0)
    model = init_model(cfg)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.rand_like(param) + 1.0)
    state = copy.deepcopy(model.state_dict())
    torch.save({'state_dict': state,
                'meta': {'dataset_meta': {'classes': CLASSES}}}, path)
    return state


@pytest.mark.parametrize('make_cfg, host', [(_classifier_cfg, 'mmpretrain'),
                                            (_segmentor_cfg, 'mmseg')])
def test_weights_and_dataset_meta_arrive(make_cfg, host, tmp_path):
    cfg = make_cfg()
    config_file = str(tmp_path / 'model.py')
    cfg.dump(config_file)
    checkpoint = str(tmp_path / 'model.pth')
    state = _changed_checkpoint(cfg, checkpoint)
    torch.manual_seed(1)
    model = init_model(config_file, checkpoint)
    assert type(model).__module__.split('.')[0] == host
    assert not model.training
    assert model.dataset_meta == {'classes': CLASSES}
    loaded = model.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key
    assert isinstance(model.cfg, Config)
    assert model.cfg.model.type == cfg.model.type
    # SyncBN needs a process group: on the CPU it becomes BN.
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in model.modules())
    # Without a checkpoint: the initial weights, no dataset_meta.
    fresh = init_model(config_file)
    assert not hasattr(fresh, 'dataset_meta') or \
        fresh.dataset_meta != {'classes': CLASSES}
    assert not all(
        torch.equal(fresh.state_dict()[k], v) for k, v in state.items()
        if v.is_floating_point())


def test_cfg_options_override_and_the_config_is_not_changed(tmp_path):
    cfg = _classifier_cfg()
    before = copy.deepcopy(cfg.to_dict())
    checkpoint = str(tmp_path / 'model.pth')
    _changed_checkpoint(cfg, checkpoint)
    # The checkpoint's 4-class head does not fit: strict=False skips it.
    model = init_model(cfg, checkpoint,
                       cfg_options={'model.head.num_classes': 6})
    assert model.head.fc.out_features == 6
    assert model.cfg.model.head.num_classes == 6
    # The pretrained download is skipped when a checkpoint is given ...
    assert model.cfg.model.backbone.init_cfg is None
    # ... in init_model's copy only.
    assert cfg.to_dict() == before
    # A config file with --cfg-options style overrides.
    small = init_model(CLS_CONFIG, checkpoint, cfg_options=SMALL)
    assert small.head.fc.out_features == len(CLASSES)
    assert torch.equal(small.head.fc.weight,
                       torch.load(checkpoint)['state_dict']['head.fc.weight'])
    segmentor = init_model(_segmentor_cfg(),
                           cfg_options={'model.train_cfg': None,
                                        'model.decode_head.num_classes': 5})
    assert segmentor.decode_head.out_channels == 5
    assert segmentor.train_cfg is None


def test_the_top_level_data_preprocessor_joins_the_model():
    # mmpretrain's convention, followed by MMEngine's Runner.
    cfg = _classifier_cfg()
    model = init_model(cfg)
    pre = model.data_preprocessor
    assert type(pre).__name__ == 'ClsDataPreprocessor'
    torch.testing.assert_close(pre.mean.flatten(),
                               torch.tensor(cfg.data_preprocessor.mean))
    torch.testing.assert_close(pre.std.flatten(),
                               torch.tensor(cfg.data_preprocessor.std))
    assert pre.to_rgb
    # One inside the model wins.
    cfg.model.data_preprocessor = dict(
        type='mmpretrain.ClsDataPreprocessor', mean=[0.0] * 3,
        std=[2.0] * 3)
    pre = init_model(cfg).data_preprocessor
    assert pre.std.flatten().tolist() == [2.0] * 3 and not pre.to_rgb


def test_missing_files_and_bad_configs_are_named(tmp_path):
    config_file = str(tmp_path / 'nope.py')
    with pytest.raises(FileNotFoundError, match='config: no file.*nope.py'):
        init_model(config_file)
    cfg = _classifier_cfg()
    missing = str(tmp_path / 'missing.pth')
    with pytest.raises(FileNotFoundError,
                       match='checkpoint: no file.*missing.pth'):
        init_model(cfg, missing)
    with pytest.raises(ValueError, match='model: .*defines no model'):
        init_model(Config(dict(default_scope='mmext')))
    with pytest.raises(TypeError, match='config: must be a file path'):
        init_model(dict(model=dict()))


def test_strict_loading(tmp_path):
    cfg = _classifier_cfg()
    checkpoint = str(tmp_path / 'model.pth')
    state = _changed_checkpoint(cfg, checkpoint)
    state['extra.weight'] = torch.zeros(1)
    torch.save({'state_dict': state}, checkpoint)
    with pytest.raises(RuntimeError, match='extra.weight'):
        init_model(cfg, checkpoint, strict=True)
    model = init_model(cfg, checkpoint)  # strict=False: loads the rest
    assert torch.equal(model.head.fc.weight, state['head.fc.weight'])
