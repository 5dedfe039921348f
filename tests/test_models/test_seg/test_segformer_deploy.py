"""SegFormer deployment: ONNX export with dynamic size, and mmseg's inferencer.

The B0 segmentor of the Shapes demo config (random weights, eval mode) is
exported once at 128x128 with dynamic batch/height/width; ONNX Runtime must
match PyTorch at that size and at batch 2 x 96x160 (a graph with fixed axes
fails there). ``tools/deployment/pytorch2onnx_seg.py`` runs end to end as a
subprocess, and ``mmseg.apis.MMSegInferencer`` runs the mmext config with a
checkpoint of the same weights on a generated Shapes image; its logits are
reproduced by the ONNX graph plus the pre-processing recorded in the graph's
metadata.
"""
import copy
import json
import os
import os.path as osp
import subprocess
import sys

import mmcv
import numpy as np
import onnx
import onnxruntime  # noqa: F401  (ONNX Runtime checks below)
import pytest
import torch
from mmengine.config import Config
from mmseg.apis import MMSegInferencer

from mmext.datasets.shapes import seg_metainfo
from mmext.deployment.onnx_seg import (SegmentorLogits, _check_dynamic,
                                       build_segmentor, export_onnx,
                                       ort_session, preprocess_metadata,
                                       verification_shapes, verify_onnx)
from mmext.testing.tools import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
CONFIG = osp.join(REPO, 'configs', 'segformer',
                  'segformer_mit-b0_1xb16-1600it_shapes-128x128.py')
TOOL = osp.join(REPO, 'tools', 'deployment', 'pytorch2onnx_seg.py')
NUM_CLASSES = 12
ATOL = 1e-3


def _load_tool():
    return load_tool('deployment/pytorch2onnx_seg.py')


@pytest.fixture(scope='module')
def cfg():
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.init_cfg = None
    return cfg


@pytest.fixture(scope='module')
def segmentor(cfg):
    torch.manual_seed(0)
    model = build_segmentor(cfg)
    model.dataset_meta = seg_metainfo()
    assert not model.training
    return model


@pytest.fixture(scope='module')
def exported(segmentor, cfg, tmp_path_factory):
    """The B0 wrapper exported at 128x128: (wrapper, onnx path)."""
    wrapper = SegmentorLogits(segmentor).eval()
    path = str(tmp_path_factory.mktemp('onnx') / 'segformer_b0.onnx')
    assert export_onnx(wrapper, path, shape=(128, 128),
                       metadata=preprocess_metadata(cfg, segmentor)) == path
    return wrapper, path


@pytest.fixture(scope='module')
def checkpoint(segmentor, tmp_path_factory):
    """The random weights as mmengine writes a checkpoint."""
    path = str(tmp_path_factory.mktemp('ckpt') / 'iter_1.pth')
    torch.save({'state_dict': segmentor.state_dict(),
                'meta': {'dataset_meta': seg_metainfo()}}, path)
    return path


def test_onnx_matches_pytorch_at_two_sizes(exported):
    wrapper, path = exported
    model_proto = onnx.load(path)
    for value in (model_proto.graph.input[0], model_proto.graph.output[0]):
        dims = value.type.tensor_type.shape.dim
        assert [d.dim_param or d.dim_value for d in dims] == [
            'batch', 3 if value.name == 'img' else NUM_CLASSES, 'height',
            'width']
    shapes = verification_shapes(128, 128)
    assert shapes == [(1, 128, 128), (2, 96, 160)]
    results = verify_onnx(wrapper, path, shapes)
    assert [r.shape for r in results] == shapes
    for res in results:
        assert res.passed and res.max_abs_diff <= ATOL, res
    # Output shape at the second size, run directly.
    session = ort_session(path)
    out = session.run(None, {'img': np.zeros((2, 3, 96, 160), np.float32)})
    assert out[0].shape == (2, NUM_CLASSES, 96, 160)


def test_wrapper_is_mmseg_whole_inference(segmentor):
    img = torch.randn(1, 3, 64, 96)
    metas = [dict(img_shape=(64, 96), ori_shape=(64, 96),
                  pad_shape=(64, 96))]
    with torch.no_grad():
        expected = segmentor.encode_decode(img, metas)
        actual = SegmentorLogits(segmentor).eval()(img)
    assert actual.shape == (1, NUM_CLASSES, 64, 96)
    torch.testing.assert_close(actual, expected)


def test_verify_reports_divergence(exported):
    wrapper, path = exported
    changed = copy.deepcopy(wrapper)
    with torch.no_grad():
        changed.segmentor.decode_head.conv_seg.bias += 0.01
    (res, ) = verify_onnx(changed, path, [(1, 64, 64)])
    assert not res.passed
    assert res.max_abs_diff == pytest.approx(0.01, abs=1e-4)


def test_fixed_axes_are_caught(tmp_path):
    """A graph exported without dynamic axes fails both checks."""
    path = str(tmp_path / 'static.onnx')
    module = torch.nn.Conv2d(3, 2, 3, padding=1).eval()
    torch.onnx.export(module, (torch.randn(1, 3, 8, 8), ), path,
                      dynamo=False, opset_version=17, input_names=['img'],
                      output_names=['logits'])
    with pytest.raises(RuntimeError, match='fixed, not dynamic'):
        _check_dynamic(onnx.load(path))
    with pytest.raises(RuntimeError, match='dynamic axes'):
        verify_onnx(module, path, [(2, 8, 12)])


def test_export_metadata_and_atomic_write(exported, tmp_path):
    _, path = exported
    props = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert json.loads(props['mean']) == [123.675, 116.28, 103.53]
    assert json.loads(props['std']) == [58.395, 57.12, 57.375]
    assert props['input_channel_order'] == 'RGB'
    assert props['align_corners'] == 'false'
    assert json.loads(props['classes']) == list(seg_metainfo()['classes'])

    class Broken(torch.nn.Module):
        def forward(self, img):
            raise RuntimeError('boom')

    out = tmp_path / 'model.onnx'
    out.write_bytes(b'previous')
    with pytest.raises(RuntimeError, match='boom'):
        export_onnx(Broken().eval(), str(out), shape=(32, 32))
    assert out.read_bytes() == b'previous'
    assert os.listdir(tmp_path) == ['model.onnx']  # no temporary left
    with pytest.raises(ValueError, match='opset'):
        export_onnx(Broken().eval(), str(out), opset=13)
    with pytest.raises(ValueError, match='eval'):
        export_onnx(Broken().train(), str(out))


def test_unsupported_models_are_named():
    with pytest.raises(ValueError, match="default_scope"):
        build_segmentor(Config(dict(default_scope='mmdet', model=dict())))
    with pytest.raises(ValueError, match='EncoderDecoder'):
        SegmentorLogits(torch.nn.Linear(2, 2))


def test_cli_exports_checkpoint_and_verifies(tmp_path, checkpoint,
                                             exported):
    out = tmp_path / 'sub' / 'b0.onnx'
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, TOOL, CONFIG, checkpoint, str(out), '--shape', '64',
         '64', '--verify', '--cfg-options', 'model.backbone.init_cfg=None'],
        cwd=str(tmp_path), env=env, capture_output=True, text=True,
        timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    lines = [x for x in proc.stdout.splitlines() if 'max abs diff' in x]
    assert len(lines) == 2 and '[2, 32, 96]' in lines[1]
    assert all('(ok' in x for x in lines)
    # The graph holds the checkpoint's weights, not new random ones.
    wrapper, _ = exported
    img = torch.randn(1, 3, 48, 80)
    session = ort_session(str(out))
    with torch.no_grad():
        expected = wrapper(img).numpy()
    actual = session.run(None, {'img': img.numpy()})[0]
    assert np.abs(actual - expected).max() <= ATOL


def test_cli_errors(tmp_path, capsys):
    tool = _load_tool()
    out = str(tmp_path / 'x.onnx')
    # A tolerance nothing meets: --verify must fail with status 1.
    assert tool.main([CONFIG, out, '--shape', '32', '32', '--verify',
                      '--atol', '0']) == 1
    assert 'differs from PyTorch' in capsys.readouterr().err
    assert tool.main([CONFIG, str(tmp_path / 'none.pth'), out]) == 1
    assert 'checkpoint: no file' in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        tool.main([CONFIG, str(tmp_path / 'a.pth')])
    assert exc.value.code == 2
    assert 'must end in .onnx' in capsys.readouterr().err


def test_mmseg_inferencer_runs_mmext_config(shapes_tiny, tmp_path,
                                            checkpoint, exported):
    scene = mmcv.imread(osp.join(shapes_tiny, 'img_dir', 'val',
                                 '000017.jpg'))
    img = np.ascontiguousarray(scene[:, :48])  # non-square: H 64, W 48
    img_path = str(tmp_path / 'scene.png')
    mmcv.imwrite(img, img_path)

    inferencer = MMSegInferencer(model=CONFIG, weights=checkpoint,
                                 device='cpu')
    out_dir = tmp_path / 'out'
    sample = inferencer(img_path, return_datasamples=True,
                        out_dir=str(out_dir))
    labels = sample.pred_sem_seg.data
    assert tuple(labels.shape) == (1, 64, 48)
    assert 0 <= int(labels.min()) and int(labels.max()) < NUM_CLASSES
    vis = mmcv.imread(str(out_dir / 'vis' / 'scene.png'))
    assert vis is not None and vis.shape == (64, 48, 3)
    assert inferencer.model.dataset_meta['classes'] == seg_metainfo()[
        'classes']

    # The ONNX graph with the recorded pre-processing gives the same
    # logits: the demo's test pipeline keeps the image size; RGB,
    # (x - mean) / std; logits at the input's 64x48.
    _, path = exported
    session = ort_session(path)
    props = {p.key: p.value for p in onnx.load(path).metadata_props}
    rgb = img.astype(np.float32)[..., ::-1]
    x = (rgb - np.array(json.loads(props['mean']), np.float32)) / \
        np.array(json.loads(props['std']), np.float32)
    x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
    assert x.shape == (1, 3, 64, 48)
    logits = torch.from_numpy(session.run(None, {'img': x})[0])
    assert tuple(logits.shape) == (1, NUM_CLASSES, 64, 48)
    logits = logits[0]
    torch.testing.assert_close(logits, sample.seg_logits.data, atol=ATOL,
                               rtol=0)


def test_build_segmentor_loads_strictly_and_keeps_the_config(
        cfg, segmentor, checkpoint, tmp_path):
    before = cfg.to_dict()
    model = build_segmentor(cfg, checkpoint)
    assert cfg.to_dict() == before  # train_cfg dropped in a copy only
    assert model.train_cfg is None and not model.training
    assert model.dataset_meta['classes'] == seg_metainfo()['classes']
    for key, value in segmentor.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    state = dict(segmentor.state_dict(), **{'extra.weight': torch.zeros(1)})
    other = str(tmp_path / 'other.pth')
    torch.save({'state_dict': state}, other)
    with pytest.raises(RuntimeError,
                       match='(?s)checkpoint: .*segformer2mmext.py.*'
                       'unexpected key.*extra.weight'):
        build_segmentor(cfg, other)
