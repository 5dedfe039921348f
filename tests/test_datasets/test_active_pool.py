"""ActivePoolDataset: what a labelled, a pseudo-labelled and an unlabelled
image of the pool carry into training, for a plain and a concatenated
(VOC07+12-style) data set."""
import pytest
import torch
from mmengine.dataset import ConcatDataset
from mmengine.registry import init_default_scope

from mmext.datasets.active_pool import ActivePoolDataset, pseudo_instances


def coco_set(root):
    from mmdet.datasets import CocoDataset

    from mmext.datasets.shapes.classes import det_metainfo
    init_default_scope('mmdet')
    return CocoDataset(
        data_root=root, ann_file='annotations/instances_train.json',
        metainfo=det_metainfo(),
        data_prefix=dict(img='img_dir/train/'),
        filter_cfg=None,
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations', with_bbox=True),
                  dict(type='PackDetInputs')])


def test_roles_show_hide_or_replace_the_boxes(shapes_tiny):
    dataset = coco_set(shapes_tiny)
    truth = dataset.get_data_info(1)['instances']
    pseudo = {2: pseudo_instances([[1.0, 2.0, 30.0, 40.0]], [5])}
    pool = ActivePoolDataset(dataset, [(0, 'labelled'), (1, 'unlabelled'),
                                       (2, 'pseudo')], pseudo)
    labelled, unlabelled, pseudo_labelled = pool[0], pool[1], pool[2]
    assert len(truth) > 0
    assert labelled['data_samples'].al_role == 'labelled'
    assert len(labelled['data_samples'].gt_instances) == len(
        dataset.get_data_info(0)['instances'])
    assert unlabelled['data_samples'].al_role == 'unlabelled'
    assert len(unlabelled['data_samples'].gt_instances) == 0
    sample = pseudo_labelled['data_samples']
    assert sample.al_role == 'pseudo'
    assert sample.gt_instances.labels.tolist() == [5]
    assert torch.allclose(sample.gt_instances.bboxes.tensor,
                          torch.tensor([[1.0, 2.0, 30.0, 40.0]]))
    assert pool.indices_of('labelled', 'pseudo') == [0, 2]
    # The data set itself is untouched.
    assert dataset.get_data_info(1)['instances'] == truth


def test_concatenated_parts_use_their_own_pipeline(shapes_tiny):
    first, second = coco_set(shapes_tiny), coco_set(shapes_tiny)
    from mmcv.transforms import Compose
    second.pipeline = Compose([dict(type='LoadImageFromFile'),
                               dict(type='Resize', scale=(32, 32),
                                    keep_ratio=False),
                               dict(type='PackDetInputs')])
    both = ConcatDataset([first, second])
    pool = ActivePoolDataset(both, [(0, 'unlabelled'),
                                    (len(first), 'unlabelled')], {})
    assert pool[0]['inputs'].shape[-1] == 64
    assert pool[1]['inputs'].shape[-2:] == (32, 32)


def test_bad_entries_are_refused(shapes_tiny):
    dataset = coco_set(shapes_tiny)
    with pytest.raises(ValueError, match="role 'gold'"):
        ActivePoolDataset(dataset, [(0, 'gold')], {})
    with pytest.raises(ValueError, match='no pseudo instances'):
        ActivePoolDataset(dataset, [(0, 'pseudo')], {})
