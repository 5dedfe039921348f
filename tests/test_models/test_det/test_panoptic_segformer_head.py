"""mmext.PanopticSegFormer end to end on tiny Shapes scenes.

The model is the Shapes config shrunk further (32 dims, 2 + 2 deformable
layers, dropout off, BN in eval mode so that a batch split over ranks sees
the same normalisation as the whole batch).
"""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmext.testing import run_distributed

CONFIG = osp.join(
    osp.dirname(__file__), '..', '..', '..', 'configs', 'panoptic_segformer',
    'panoptic-segformer_r18-w32_1xb4-10e_shapes-panoptic-128px.py')


def _tiny_cfg(data_root: str) -> Config:
    cfg = Config.fromfile(CONFIG)
    dims = 32
    model = cfg.model
    model.num_queries = 8
    model.backbone.update(base_channels=8, norm_eval=True)
    model.neck.update(in_channels=[16, 32, 64], out_channels=dims,
                      norm_cfg=dict(type='GN', num_groups=8))
    model.encoder.update(num_layers=2)
    model.encoder.layer_cfg.self_attn_cfg.update(embed_dims=dims,
                                                 dropout=0.0)
    model.encoder.layer_cfg.ffn_cfg.update(embed_dims=dims,
                                           feedforward_channels=64,
                                           ffn_drop=0.0)
    model.decoder.update(num_layers=2)
    model.decoder.layer_cfg.self_attn_cfg.update(embed_dims=dims,
                                                 dropout=0.0)
    model.decoder.layer_cfg.cross_attn_cfg.update(embed_dims=dims,
                                                  dropout=0.0)
    model.decoder.layer_cfg.ffn_cfg.update(embed_dims=dims,
                                           feedforward_channels=64,
                                           ffn_drop=0.0)
    model.positional_encoding.num_feats = dims // 2
    model.bbox_head.update(embed_dims=dims, mask_num_heads=4,
                           mask_ffn_dims=64, thing_decoder_layers=2,
                           stuff_decoder_layers=2)
    model.test_cfg.max_per_img = 8
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.dataset.data_root = data_root
        loader.update(num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.pipeline = [
        p for p in cfg.train_dataloader.dataset.pipeline
        if p['type'] != 'RandomFlip'
    ]
    return cfg


def _build(cfg: Config, seed: int = 0):
    import mmext  # noqa: F401  (registers mmext.*)
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    return model


def _batch(cfg: Config, indices, test_mode: bool = False):
    from mmdet.registry import DATASETS
    init_default_scope('mmdet')
    loader = cfg.val_dataloader if test_mode else cfg.train_dataloader
    dataset = DATASETS.build(copy.deepcopy(loader.dataset))
    samples = [dataset[i] for i in indices]
    return dict(inputs=[s['inputs'] for s in samples],
                data_samples=[s['data_samples'] for s in samples])


def _losses(model, batch):
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    return model(**data, mode='loss')


def _total(losses):
    return sum(v for k, v in losses.items() if 'loss' in k)


def test_loss_terms_and_learning(shapes_tiny):
    cfg = _tiny_cfg(shapes_tiny)
    model = _build(cfg)
    model.train()
    batch = _batch(cfg, range(4))
    losses = _losses(model, batch)
    expected = {'loss_cls', 'loss_bbox', 'loss_iou', 'd0.loss_cls',
                'loss_thing_mask', 'd0.loss_thing_mask', 'd1.loss_thing_mask',
                'loss_stuff_mask', 'd1.loss_stuff_mask', 'loss_stuff_cls',
                'd0.loss_stuff_cls'}
    assert expected <= set(losses)
    assert all(torch.isfinite(v) for v in losses.values())
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    first = _total(losses).item()
    for _ in range(40):
        loss = _total(_losses(model, batch))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    final = _total(_losses(model, batch)).item()
    assert final < 0.6 * first, (first, final)


def test_predict_gives_mmdet_panoptic_encoding(shapes_tiny):
    cfg = _tiny_cfg(shapes_tiny)
    model = _build(cfg).eval()
    model.bbox_head.merge_cfg.update(thing_score_thr=0.0,
                                     stuff_score_thr=0.0)
    batch = _batch(cfg, range(2), test_mode=True)
    data = model.data_preprocessor(batch, False)
    with torch.no_grad():
        results = model(**data, mode='predict')
    for sample in results:
        pan = sample.pred_panoptic_seg.sem_seg
        assert pan.shape == (1, *sample.ori_shape)
        labels = pan % 1000
        assert labels.max() <= 12  # 8 things + 4 stuff, 12 = VOID
        things = pan[(pan >= 1000)] % 1000
        assert (things < 8).all()
        stuff = pan[pan < 1000]
        assert ((stuff >= 8) & (stuff <= 12)).all()


def test_head_arguments_are_checked(shapes_tiny):
    cfg = _tiny_cfg(shapes_tiny)
    bad = copy.deepcopy(cfg)
    bad.model.bbox_head.num_classes = 12
    with pytest.raises(ValueError, match='num_classes'):
        _build(bad)
    bad = copy.deepcopy(cfg)
    del bad.model.train_cfg['mask_assigner']
    with pytest.raises(KeyError, match='mask_assigner'):
        _build(bad)


def _grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters()
            if p.grad is not None}


def _ddp_rank(rank, world_size, cfg_dict, batch):
    from mmengine.model import MMDistributedDataParallel
    cfg = Config(cfg_dict)
    model = _build(cfg)
    model.train()
    ddp = MMDistributedDataParallel(module=model)
    half = len(batch['inputs']) // world_size
    part = {k: v[rank * half:(rank + 1) * half] for k, v in batch.items()}
    data = model.data_preprocessor(part, True)
    losses = ddp(**data, mode='loss')
    _total(losses).backward()
    return _grads(model)


def test_two_rank_gradients_equal_one_process_on_union_batch(shapes_tiny):
    cfg = _tiny_cfg(shapes_tiny)
    batch = _batch(cfg, range(4))
    model = _build(cfg)
    model.train()
    _total(_losses(model, batch)).backward()
    expected = _grads(model)
    ranks = run_distributed(_ddp_rank, world_size=2,
                            args=(cfg.to_dict(), batch), timeout=240)
    for grads in ranks:
        assert set(grads) == set(expected)
        for name, grad in expected.items():
            torch.testing.assert_close(grads[name], grad, rtol=1e-3,
                                       atol=1e-6, msg=name)


@pytest.mark.parametrize('variant', ['shared_decoder', 'mask_classes',
                                     'three_levels'])
def test_paper_switches_train_and_predict(shapes_tiny, variant):
    cfg = _tiny_cfg(shapes_tiny)
    model_cfg = cfg.model
    if variant == 'shared_decoder':
        model_cfg.bbox_head.shared_mask_decoder = True
    elif variant == 'mask_classes':
        model_cfg.bbox_head.thing_cls_source = 'mask'
    else:  # the paper's C3-C5 encoder without the extra 1/64 level
        model_cfg.num_feature_levels = 3
        model_cfg.neck.num_outs = 3
        model_cfg.encoder.layer_cfg.self_attn_cfg.num_levels = 3
        model_cfg.decoder.layer_cfg.cross_attn_cfg.num_levels = 3
    model = _build(cfg)
    head = model.bbox_head
    assert hasattr(head, 'thing_mask_decoder') != (
        variant == 'shared_decoder')
    model.train()
    losses = _losses(model, _batch(cfg, range(2)))
    if variant == 'mask_classes':
        assert {'loss_thing_cls', 'd0.loss_thing_cls'} <= set(losses)
    _total(losses).backward()
    unused = [n for n, p in model.named_parameters()
              if p.requires_grad and p.grad is None]
    assert not unused
    model.eval()
    data = model.data_preprocessor(_batch(cfg, range(2), test_mode=True),
                                   False)
    with torch.no_grad():
        results = model(**data, mode='predict')
    assert results[0].pred_panoptic_seg.sem_seg.shape == (
        1, *results[0].ori_shape)
    with pytest.raises(ValueError, match='thing_cls_source'):
        bad = copy.deepcopy(cfg)
        bad.model.bbox_head.thing_cls_source = 'both'
        _build(bad)


def test_tools_test_evaluates_pq_and_paints_panoptic_overlays(
        shapes_tiny, tmp_path):
    """tools/test.py with mmext's metric on COCO-panoptic files."""
    import glob
    import json

    from mmext.testing.tools import load_tool
    cfg = _tiny_cfg(shapes_tiny)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.test_evaluator = copy.deepcopy(cfg.val_evaluator)
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        evaluator.update(
            ann_file=osp.join(shapes_tiny, 'annotations/panoptic_val.json'),
            seg_prefix=osp.join(shapes_tiny, 'annotations/panoptic_val/'))
    cfg.visualizer.name = f'pq_tools_test_{id(tmp_path)}'
    # an untrained model's masks are near 0 and score low: lift the final
    # masks and keep every segment so that there is something to paint
    # (mmdet's visualizer fails on an all-VOID map)
    cfg.model.test_cfg.update(thing_score_thr=0.0, stuff_score_thr=0.0)
    config = str(tmp_path / 'tiny_panoptic_segformer.py')
    cfg.dump(config)
    ckpt = str(tmp_path / 'random.pth')
    state = _build(cfg).state_dict()
    for decoder in ('thing', 'stuff'):
        state[f'bbox_head.{decoder}_mask_decoder.tail.to_mask.fuse.bias'] \
            .fill_(1.0)
    torch.save({'state_dict': state, 'meta': {}}, ckpt)
    work_dir = str(tmp_path / 'test')
    assert load_tool('test.py').main(
        [config, ckpt, '--work-dir', work_dir, '--show-dir', 'show']) == 0
    metrics = glob.glob(osp.join(work_dir, '*', '*.json'))
    assert len(metrics) == 1
    with open(metrics[0]) as f:
        result = json.load(f)
    for key in ('PQ', 'SQ', 'RQ', 'PQ_th', 'PQ_st'):
        assert 0.0 <= result[f'coco_panoptic/{key}'] <= 100.0
    # mmdet's hook writes work_dir/<timestamp>/<show_dir>/<image name>
    painted = glob.glob(osp.join(work_dir, '**', '*.jpg'), recursive=True)
    assert len(painted) == 8  # one painted image per tiny val scene


def test_missing_or_unpadded_targets_raise_clear_errors(shapes_tiny):
    cfg = _tiny_cfg(shapes_tiny)
    model = _build(cfg)
    model.train()
    batch = _batch(cfg, range(2))
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    del data['data_samples'][1].gt_sem_seg
    with pytest.raises(KeyError, match='LoadPanopticAnnotations'):
        model(**data, mode='loss')
    unpadded = copy.deepcopy(cfg)  # the 128 px inputs padded to 256
    unpadded.model.data_preprocessor.update(pad_mask=False, pad_seg=False,
                                            pad_size_divisor=256)
    model = _build(unpadded)
    model.train()
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    with pytest.raises(ValueError, match='pad_mask=True'):
        model(**data, mode='loss')
