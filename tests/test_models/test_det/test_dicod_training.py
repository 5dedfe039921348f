"""mmext.DICODDistiller through MMEngine: a Runner trains it, the stock
detector config tests its checkpoint, tools/train.py refuses a bad teacher
before writing anything, and 2-process gloo DDP equals one process on the
union batch."""
import copy
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmext.testing.distributed import run_distributed
from mmext.testing.runner_cfg import one_epoch_on
from mmext.testing.tools import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
DICOD_FRCNN = osp.join(
    REPO, 'configs/dicod/dicod_faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-'
    '128px.py')
STOCK_FRCNN = osp.join(
    REPO, 'configs/shapes/faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-128px.py')
DICOD_RETINA = osp.join(
    REPO, 'configs/dicod/dicod_retinanet_r18-w32_fpn_1xb4-10e_shapes-'
    '128px.py')


def tiny_cfg(config: str, data_root: str, work_dir: str, teacher: dict,
             teacher_ckpt: str) -> Config:
    """A DICOD Shapes config on the tiny files: 1 epoch, batch 2, the
    tiny teacher, no validation."""
    cfg = one_epoch_on(Config.fromfile(config), data_root, work_dir)
    cfg.model.teacher = teacher
    cfg.model.teacher_ckpt = teacher_ckpt
    cfg.model.kd_cls.crop_size = cfg.model.kd_loc.crop_size = 32
    return cfg


def test_runner_checkpoint_is_tested_by_the_stock_config(
        shapes_tiny, dicod_teacher, tmp_path, capsys):
    teacher, ckpt = dicod_teacher()
    cfg = tiny_cfg(DICOD_FRCNN, shapes_tiny, str(tmp_path / 'run'), teacher,
                   ckpt)
    runner = Runner.from_cfg(cfg)
    runner.train()
    logged = runner.message_hub.log_scalars
    for key in ('train/loss_kd_cls', 'train/loss_kd_loc'):
        assert torch.isfinite(torch.tensor(logged[key].current()))
    checkpoint = osp.join(cfg.work_dir, 'epoch_1.pth')
    state = torch.load(checkpoint, map_location='cpu',
                       weights_only=False)['state_dict']
    assert not any(k.startswith(('student.', 'teacher')) for k in state)

    test_tool = load_tool('test.py')
    status = test_tool.main([
        STOCK_FRCNN, checkpoint, '--work-dir',
        str(tmp_path / 'test'), '--cfg-options',
        f'test_dataloader.dataset.data_root={shapes_tiny}/',
        f'test_evaluator.ann_file={shapes_tiny}/annotations/'
        'instances_val.json', 'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False'
    ])
    assert status == 0
    assert 'coco/bbox_mAP' in capsys.readouterr().out


def test_train_tool_refuses_a_missing_teacher_before_writing(
        shapes_tiny, dicod_teacher, tmp_path, capsys):
    teacher, _ = dicod_teacher()
    work_dir = tmp_path / 'never'
    train_tool = load_tool('train.py')
    status = train_tool.main([
        DICOD_FRCNN, '--work-dir',
        str(work_dir), '--cfg-options',
        f'train_dataloader.dataset.data_root={shapes_tiny}/',
        f'val_dataloader.dataset.data_root={shapes_tiny}/',
        f'model.teacher_ckpt={tmp_path}/missing.pth'
    ])
    assert status == 1
    assert 'model.teacher_ckpt' in capsys.readouterr().err
    assert not work_dir.exists()


def _batch(seed: int, copies: int) -> dict:
    """Two fixed 128 px images with two objects each, ``copies`` times."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    generator = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for labels in ([1, 3], [5, 0]):
        inputs.append(torch.randint(0, 256, (3, 128, 128), dtype=torch.uint8,
                                    generator=generator))
        sample = DetDataSample(metainfo=dict(
            img_shape=(128, 128), ori_shape=(128, 128),
            pad_shape=(128, 128), scale_factor=(1., 1.),
            batch_input_shape=(128, 128)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[10., 12., 60., 70.], [70., 20., 120.,
                                                        64.]]),
            labels=torch.tensor(labels))
        samples.append(sample)
    return dict(inputs=inputs * copies,
                data_samples=[copy.deepcopy(s) for s in samples * copies])


def _train_steps(model_cfg: dict, batches: list, wrap: bool) -> dict:
    from mmengine.model import MMDistributedDataParallel
    from mmengine.optim import OptimWrapper
    from mmengine.registry import init_default_scope

    from mmext.registry import MODELS
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(model_cfg))
    model.init_weights()
    model.train()
    optim_wrapper = OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.01))
    runner_model = MMDistributedDataParallel(
        module=model, device_ids=None) if wrap else model
    for data in batches:
        log_vars = runner_model.train_step(data, optim_wrapper)
    return dict(
        student=[p.detach().clone() for p in model.student.parameters()],
        teacher={k: v.clone()
                 for k, v in model.teacher.model.state_dict().items()},
        kd=float(log_vars['loss_kd_cls'] + log_vars['loss_kd_loc']))


def _ddp_rank(rank: int, world_size: int, model_cfg: dict) -> dict:
    # Every rank holds the same two images: the union batch is the four.
    return _train_steps(model_cfg, [_batch(s, 1) for s in (0, 1)],
                        wrap=True)


def test_ddp_equals_one_process_on_the_union_batch(dicod_teacher):
    teacher, ckpt = dicod_teacher()
    cfg = Config.fromfile(DICOD_RETINA).model.to_dict()
    cfg.update(teacher=teacher, teacher_ckpt=ckpt)
    cfg['kd_cls']['crop_size'] = cfg['kd_loc']['crop_size'] = 32
    # Every positive: a random subset (the config's max_positives) is
    # drawn per rank, from each rank's own positives.
    cfg['kd_loc']['max_positives'] = None
    ranks = run_distributed(_ddp_rank, world_size=2, args=(cfg, ),
                            timeout=300)
    single = _train_steps(cfg, [_batch(s, 2) for s in (0, 1)], wrap=False)
    assert ranks[0]['kd'] > 0
    for result in ranks:
        for key, value in result['teacher'].items():
            assert torch.equal(value, single['teacher'][key]), key
        for p, q in zip(result['student'], single['student']):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
