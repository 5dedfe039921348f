"""tools/analysis_tools/dicod_gradients.py on the tiny Shapes set with a
random teacher: KD_loc reaches the box branch and not the class layer,
KD_cls the class layer and not the box layer, and the printed figures equal
the gradients taken here with torch.autograd."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmext.testing.tools import REPO, load_tool, markdown_table_rows

CONFIG = osp.join(
    REPO, 'configs/dicod/dicod_faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-'
    '128px.py')
FC_REG = 'roi_head.bbox_head.fc_reg.weight'
FC_CLS = 'roi_head.bbox_head.fc_cls.weight'
SHARED = 'roi_head.bbox_head.shared_fcs.1.weight'


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis_tools/dicod_gradients.py')


def options(shapes_tiny):
    return [
        '--cfg-options', f'train_dataloader.dataset.data_root={shapes_tiny}/',
        'train_dataloader.batch_size=2'
    ]


def test_each_kd_loss_reaches_its_own_branch(tool, shapes_tiny, capsys):
    assert tool.main([
        CONFIG, '--params', FC_REG, FC_CLS, SHARED, '--batches', '1',
        '--threads', '1', '--random-teacher'
    ] + options(shapes_tiny)) == 0
    rows = markdown_table_rows(capsys.readouterr().out,
                               'cosine with loss_cls |')
    figures = {(r[0], r[1]): [float(x) for x in r[2:]] for r in rows}
    assert set(figures) == {(p, kd) for p in (FC_REG, FC_CLS, SHARED)
                            for kd in ('loss_kd_cls', 'loss_kd_loc')}
    # KD_loc moves boxes: the box layer, never the class layer.
    assert figures[(FC_REG, 'loss_kd_loc')][0] > 0
    assert figures[(FC_CLS, 'loss_kd_loc')][2] == 0
    # KD_cls moves class scores: the class layer, never the box layer.
    assert figures[(FC_CLS, 'loss_kd_cls')][2] > 0
    assert figures[(FC_REG, 'loss_kd_cls')][0] == 0
    for values in figures.values():
        assert -1 <= values[1] <= 1 and -1 <= values[3] <= 1


def test_figures_equal_autograd_on_the_same_batch(tool, shapes_tiny):
    args = tool.parse_args([CONFIG, '--params', SHARED, '--random-teacher'] +
                           options(shapes_tiny))
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(args.cfg_options)
    init_default_scope('mmdet')
    distiller = tool.build_distiller(cfg, None, True)
    (batch, ) = tool._benchmark_dicod().training_batches(cfg, 1)
    shared = dict(distiller.student.named_parameters())[SHARED]
    torch.manual_seed(0)  # the same proposals sampled both times
    grads = tool.batch_gradients(distiller, batch, {SHARED: shared})[SHARED]

    torch.manual_seed(0)
    data = distiller.data_preprocessor(batch, True)
    losses = distiller.loss(data['inputs'], data['data_samples'])
    by_hand = {
        name: torch.autograd.grad(losses[name], shared,
                                  retain_graph=True)[0].flatten()
        for name in ('loss_bbox', 'loss_kd_loc')
    }
    torch.testing.assert_close(grads['loss_kd_loc'], by_hand['loss_kd_loc'])
    rows = markdown_table_rows(tool.table([{SHARED: grads}]),
                               'cosine with loss_cls |')
    (loc, ) = [r for r in rows if r[1] == 'loss_kd_loc']
    ratio = by_hand['loss_kd_loc'].norm() / by_hand['loss_bbox'].norm()
    cosine = F.cosine_similarity(by_hand['loss_kd_loc'],
                                 by_hand['loss_bbox'], dim=0)
    assert float(loc[2]) == pytest.approx(float(ratio), abs=1e-3)
    assert float(loc[3]) == pytest.approx(float(cosine), abs=1e-3)


def test_an_unknown_parameter_is_named(tool, shapes_tiny):
    with pytest.raises(SystemExit, match=r"--params: \['head.nothing'\]"):
        tool.main([CONFIG, '--params', 'head.nothing', '--batches', '1',
                   '--random-teacher'] + options(shapes_tiny))
