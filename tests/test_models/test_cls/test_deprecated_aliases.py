"""The classification glue mmext used to carry is now mmpretrain's; its
registered names stay for one release as aliases that warn and behave as
the mmpretrain components they stand for."""
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.registry import (DATASETS, METRICS, MODELS, TRANSFORMS,
                               DefaultScope)
from mmpretrain.datasets.transforms import PackInputs
from mmpretrain.evaluation import Accuracy as MMPretrainAccuracy
from mmpretrain.models import ImageClassifier
from mmpretrain.structures import DataSample

#: mmdet's ResNet-18 at width 8, as the old mmext configs wrote it.
OLD_MODEL = dict(
    type='mmext.ImageClassifier',
    backbone=dict(type='mmdet.ResNet', depth=18, base_channels=8,
                  out_indices=(3, ), init_cfg=None),
    in_channels=64,
    num_classes=5)


@pytest.mark.parametrize('scope', ['mmext', 'mmdet'])
def test_old_classifier_config_builds_mmpretrains_classifier(scope):
    with DefaultScope.overwrite_default_scope(scope), \
            pytest.warns(DeprecationWarning, match="mmpretrain's ImageClass"):
        model = MODELS.build(OLD_MODEL)
    assert isinstance(model, ImageClassifier)
    # The old parameter names: old checkpoints load unchanged.
    names = set(model.state_dict())
    assert {'head.fc.weight', 'head.fc.bias'} <= names
    assert all(n.startswith(('backbone.', 'head.fc.')) for n in names)
    assert model.head.fc.weight.shape == (5, 64)
    logits = model(torch.rand(2, 3, 32, 32), mode='tensor')
    assert logits.shape == (2, 5)


def test_label_smoothing_is_torchs():
    torch.manual_seed(0)
    with pytest.warns(DeprecationWarning):
        model = MODELS.build(dict(OLD_MODEL, label_smoothing=0.1))
    inputs = torch.rand(4, 3, 32, 32)
    labels = torch.tensor([0, 3, 1, 4])
    samples = [DataSample().set_gt_label(int(k)) for k in labels]
    loss = model(inputs, samples, mode='loss')['loss']
    logits = model(inputs, mode='tensor')
    expected = torch.nn.functional.cross_entropy(
        logits, labels, label_smoothing=0.1)
    torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize('extra', [
    dict(dropout=0.5),
    dict(neck=dict(type='mmpretrain.GlobalAveragePooling'))
])
def test_what_the_alias_cannot_express_is_named(extra):
    with pytest.warns(DeprecationWarning), \
            pytest.raises(ValueError, match='neck and dropout'):
        MODELS.build(dict(OLD_MODEL, **extra))


def test_accuracy_alias_is_mmpretrains():
    scores = torch.rand(10, 6, generator=torch.Generator().manual_seed(0))
    labels = torch.randint(0, 6, (10, ))
    samples = [
        DataSample().set_pred_score(s).set_gt_label(int(k)).to_dict()
        for s, k in zip(scores, labels)
    ]
    with pytest.warns(DeprecationWarning, match="mmpretrain's Accuracy"):
        metric = METRICS.build(dict(type='mmext.Accuracy', topk=(1, 3)))
    assert isinstance(metric, MMPretrainAccuracy)
    metric.process(None, samples)
    result = metric.compute_metrics(metric.results)
    top3 = scores.topk(3, dim=1).indices
    for k in (1, 3):
        hits = (top3[:, :k] == labels[:, None]).any(dim=1).float().mean()
        assert result[f'top{k}'] == pytest.approx(100 * hits.item())


def test_pack_alias_is_mmpretrains():
    image = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    with pytest.warns(DeprecationWarning, match="mmpretrain's PackInputs"):
        pack = TRANSFORMS.build(dict(type='mmext.PackClsInputs'))
    packed = pack(dict(img=image, gt_label=2))
    expected = PackInputs()(dict(img=image, gt_label=2))
    assert torch.equal(packed['inputs'], expected['inputs'])
    assert packed['data_samples'].gt_label.tolist() == [2]


@pytest.fixture
def class_tree(tmp_path):
    """``train/<class>/k.png`` for three classes named out of order."""
    for name in ('zebra', 'ant', 'moth'):
        for k in range(2):
            mmcv.imwrite(np.zeros((4, 4, 3), np.uint8),
                         str(tmp_path / 'train' / name / f'{k}.png'))
    return str(tmp_path)


def test_dataset_alias_numbers_folders_by_the_given_classes(class_tree):
    classes = ('zebra', 'ant', 'moth')
    with pytest.warns(DeprecationWarning, match="CustomDataset"):
        dataset = DATASETS.build(
            dict(type='mmext.ImageFolderDataset', data_root=class_tree,
                 data_prefix='train', metainfo=dict(classes=classes)))
    assert len(dataset) == 6
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        folder = osp.basename(osp.dirname(info['img_path']))
        assert classes[info['gt_label']] == folder
    # Without classes: sorted folder names, as mmpretrain's CustomDataset.
    with pytest.warns(DeprecationWarning):
        plain = DATASETS.build(
            dict(type='mmext.ImageFolderDataset', data_root=class_tree,
                 data_prefix='train'))
    assert plain.metainfo['classes'] == ('ant', 'moth', 'zebra')


def test_dataset_alias_names_a_folder_outside_the_classes(class_tree):
    with pytest.warns(DeprecationWarning), \
            pytest.raises(ValueError, match=r"\['moth'\] are not in"):
        DATASETS.build(
            dict(type='mmext.ImageFolderDataset', data_root=class_tree,
                 data_prefix='train',
                 metainfo=dict(classes=('zebra', 'ant', 'bee'))))
