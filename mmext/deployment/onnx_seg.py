"""ONNX export of mmseg segmentors (SegFormer and any ``EncoderDecoder``).

The exported graph is the network only: :class:`SegmentorLogits` takes an
image batch that is already normalised as the config's
``data_preprocessor`` does (mean/std, channel order; recorded in the ONNX
metadata, see :func:`preprocess_metadata`) and returns per-pixel class
logits at the input size. Pre-processing (resize, pad) and the arg-max
stay with the caller, as in mmdeploy's ``end2end`` models without the
post-processing.

For SegFormer (Xie et al., arXiv:2105.15203) the graph is MiT encoder ->
all-MLP decoder at 1/4 resolution -> bilinear upsampling to the input
size. The encoder has no positional embedding (Sec. 3.1, Mix-FFN), so one
graph with dynamic height and width serves every input size; the attention
(``F.scaled_dot_product_attention``) exports as MatMul/Softmax at opset
>= 14.

Typical use::

    model = build_segmentor(cfg, 'iter_650.pth')
    wrapper = SegmentorLogits(model)
    export_onnx(wrapper, 'segformer.onnx', shape=(512, 512),
                metadata=preprocess_metadata(cfg, model))
    results = verify_onnx(wrapper, 'segformer.onnx',
                          verification_shapes(512, 512))
"""
import json
import math
import warnings
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mmext.utils.atomic import atomic_write
from mmext.utils.optional import require_package

DEFAULT_OPSET = 17
#: Scaled dot-product attention (MiT) has an ONNX symbolic from opset 14.
MIN_OPSET = 14
DEFAULT_ATOL = 1e-3
INPUT_NAME = 'img'
OUTPUT_NAME = 'logits'
#: Dynamic axes of both the input [B, 3, H, W] and the output
#: [B, num_classes, H, W].
DYNAMIC_AXES = {0: 'batch', 2: 'height', 3: 'width'}


def build_segmentor(cfg, checkpoint: Optional[str] = None) -> nn.Module:
    """Build the segmentor of an mmseg-scope config in eval mode on CPU.

    :func:`mmext.apis.init_model` with the export's settings: the config
    must be mmseg-scope, the model is built without its ``train_cfg``,
    SyncBN layers become BN (no process group is needed) and the checkpoint
    is loaded strictly. Weights come from ``checkpoint``, or stay randomly
    initialised without one.

    Args:
        cfg (mmengine.Config): A config with ``default_scope='mmseg'`` and a
            ``model`` (e.g. ``configs/segformer/*.py``); not changed.
        checkpoint (str, optional): An mmengine checkpoint of that model
            (``{'state_dict': ..., 'meta': ...}`` or a bare state dict),
            loaded strictly. ``meta.dataset_meta`` becomes
            ``model.dataset_meta``.

    Returns:
        nn.Module: The segmentor, in eval mode.

    Raises:
        ValueError: The config is not mmseg-scope or has no ``model``.
        FileNotFoundError: ``checkpoint`` does not exist.
        RuntimeError: The checkpoint's keys or shapes do not fit the model.
    """
    from mmext.apis import init_model

    scope = cfg.get('default_scope', None)
    if scope != 'mmseg':
        raise ValueError(
            f"default_scope: ONNX export of segmentors needs an mmseg-scope "
            f"config (default_scope = 'mmseg'), got {scope!r}")
    try:
        return init_model(cfg, checkpoint, device='cpu',
                          cfg_options={'model.train_cfg': None},
                          strict=True)
    except RuntimeError as err:
        if checkpoint is None:
            raise
        raise RuntimeError(
            f'checkpoint: {checkpoint!r} does not fit the model of the '
            f'config (use the config it was trained with; convert '
            f'released SegFormer weights with tools/model_converters/'
            f'segformer2mmext.py): {err}') from err


class SegmentorLogits(nn.Module):
    """An mmseg ``EncoderDecoder`` as a plain image -> logits network.

    ``forward`` is ``backbone (+ neck) -> decode_head -> bilinear resize to
    the input size`` with the head's ``align_corners``: the ``seg_logits``
    of mmseg's whole-image inference (``EncoderDecoder.encode_decode``) for
    an unpadded batch, without data pre-processing and without the
    auxiliary heads (training only).

    Args:
        segmentor (nn.Module): An mmseg ``EncoderDecoder`` whose
            ``decode_head`` is a ``BaseDecodeHead`` (``forward(features)``
            returns logits), e.g. SegFormer (arXiv:2105.15203).

    Raises:
        ValueError: The model has no single ``BaseDecodeHead``.
    """

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        from mmseg.models.decode_heads.decode_head import BaseDecodeHead
        head = getattr(segmentor, 'decode_head', None)
        if not hasattr(segmentor, 'extract_feat') or head is None:
            raise ValueError(
                f'model: {type(segmentor).__name__} has no extract_feat/'
                "decode_head; export an mmseg EncoderDecoder (model.type="
                "'EncoderDecoder')")
        if not isinstance(head, BaseDecodeHead):
            raise ValueError(
                f'model.decode_head: {type(head).__name__} is not a single '
                'mmseg BaseDecodeHead (cascade heads and query-based heads '
                'such as Mask2Former need their own export); '
                'SegmentorLogits exports heads whose forward(features) '
                'returns logits')
        self.segmentor = segmentor
        self.align_corners = bool(head.align_corners)

    @property
    def num_outputs(self) -> int:
        """Output channels: ``num_classes`` (1 for a binary sigmoid head)."""
        return self.segmentor.decode_head.out_channels

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Normalised images [B, 3, H, W] -> logits [B, num_classes, H, W].

        For SegFormer the head's logits are [B, num_classes, H/4, W/4]
        (paper Eq. 4) and are upsampled bilinearly to H x W.
        """
        features = self.segmentor.extract_feat(img)
        logits = self.segmentor.decode_head(features)
        return F.interpolate(logits, size=img.shape[2:], mode='bilinear',
                             align_corners=self.align_corners)


def preprocess_metadata(cfg, segmentor: Optional[nn.Module] = None
                        ) -> Dict[str, str]:
    """What a caller of the ONNX graph must know, as ONNX metadata strings.

    Args:
        cfg (mmengine.Config): The model's config; ``mean``, ``std`` and
            ``bgr_to_rgb`` come from ``model.data_preprocessor``.
        segmentor (nn.Module, optional): Its ``dataset_meta['classes']``
            (from the checkpoint) is recorded when present.

    Returns:
        dict: ``mean``/``std`` (JSON lists, pixel units, in the input's
        channel order), ``input_channel_order`` (``'RGB'`` if the config
        converts mmcv's BGR images, else ``'BGR'``), ``align_corners`` and,
        when known, ``classes`` (JSON list).
    """
    pre = cfg.model.get('data_preprocessor', None) or {}
    # mmcv loads BGR; the pre-processor may flip it before normalising.
    meta = {'input_channel_order':
            'RGB' if pre.get('bgr_to_rgb', False) else 'BGR'}
    for key in ('mean', 'std'):
        if pre.get(key, None) is not None:
            meta[key] = json.dumps([float(v) for v in pre[key]])
    head = cfg.model.get('decode_head', None)
    if isinstance(head, dict) and 'align_corners' in head:
        meta['align_corners'] = json.dumps(bool(head['align_corners']))
    classes = (getattr(segmentor, 'dataset_meta', None) or {}).get('classes')
    if classes:
        meta['classes'] = json.dumps(list(classes))
    return meta


def _check_dynamic(model_proto) -> None:
    """Raise if the graph's input/output lack symbolic batch, H and W."""
    for value in (model_proto.graph.input[0], model_proto.graph.output[0]):
        dims = value.type.tensor_type.shape.dim
        fixed = [i for i in DYNAMIC_AXES if i >= len(dims)
                 or not dims[i].dim_param]
        if fixed:
            raise RuntimeError(
                f'{value.name}: axes {fixed} of the exported graph are '
                'fixed, not dynamic; the exporter ignored dynamic_axes')


def export_onnx(module: nn.Module, out_file: str,
                shape: Tuple[int, int] = (512, 512), batch_size: int = 1,
                opset: int = DEFAULT_OPSET,
                metadata: Optional[Dict[str, str]] = None) -> str:
    """Export ``module`` to ONNX with dynamic batch, height and width.

    Traced with the TorchScript-based exporter (``dynamo=False``; the
    dynamo exporter needs ``onnxscript``) on a random input of
    ``[batch_size, 3, H, W]``, checked with ``onnx.checker``, then moved to
    ``out_file`` atomically: an existing file is replaced only by a complete,
    valid model.

    Args:
        module (nn.Module): Image [B, 3, H, W] -> logits [B, K, H, W], in
            eval mode (e.g. :class:`SegmentorLogits`). If it has a
            ``num_outputs`` attribute, the graph's output declares K.
        out_file (str): The ``.onnx`` path.
        shape (tuple[int, int]): (H, W) of the tracing input.
        batch_size (int): B of the tracing input.
        opset (int): ONNX opset; at least :data:`MIN_OPSET`.
        metadata (dict[str, str], optional): ``metadata_props`` to store
            (see :func:`preprocess_metadata`).

    Returns:
        str: ``out_file``.

    Raises:
        ImportError: ``onnx`` is not installed.
        ValueError: Bad ``shape``/``opset``, or ``module`` in training mode.
        RuntimeError: An operator has no ONNX symbolic at ``opset``, or the
            axes did not come out dynamic.
    """
    onnx = require_package('onnx', 'ONNX export')
    height, width = (int(v) for v in shape)
    if height < 1 or width < 1 or batch_size < 1:
        raise ValueError(f'shape: needs positive H and W (and batch), got '
                         f'{tuple(shape)} x batch {batch_size}')
    if opset < MIN_OPSET:
        raise ValueError(
            f'opset: {opset} is too old; attention '
            f'(scaled_dot_product_attention) exports from opset '
            f'{MIN_OPSET}, use --opset {DEFAULT_OPSET}')
    if module.training:
        raise ValueError('module: call .eval() before export (BN statistics '
                         'and dropout differ in training mode)')
    dummy = torch.randn(batch_size, 3, height, width,
                        generator=torch.Generator().manual_seed(0))

    def write(tmp: str) -> None:
        try:
            with torch.no_grad(), warnings.catch_warnings():
                # The TorchScript exporter is deprecated in favour of dynamo
                # (which needs onnxscript); it is the one that works here.
                warnings.filterwarnings(
                    'ignore', message='.*legacy TorchScript-based ONNX',
                    category=DeprecationWarning)
                torch.onnx.export(
                    module, (dummy, ), tmp, dynamo=False,
                    opset_version=opset, input_names=[INPUT_NAME],
                    output_names=[OUTPUT_NAME],
                    dynamic_axes={INPUT_NAME: DYNAMIC_AXES,
                                  OUTPUT_NAME: DYNAMIC_AXES},
                    do_constant_folding=True)
        except (torch.onnx.errors.UnsupportedOperatorError,
                torch.onnx.errors.SymbolicValueError) as err:
            raise RuntimeError(
                f'opset: an operator cannot be exported at opset {opset} '
                f'(try --opset {DEFAULT_OPSET} or newer): {err}') from err
        model_proto = onnx.load(tmp)
        onnx.checker.check_model(model_proto)
        _check_dynamic(model_proto)
        # The tracer loses the class count behind Resize ('Resize..._dim_1');
        # declare it, so consumers see [batch, K, height, width].
        num_outputs = getattr(module, 'num_outputs', None)
        channel = model_proto.graph.output[0].type.tensor_type.shape.dim[1]
        if num_outputs and not channel.dim_value:
            channel.dim_value = int(num_outputs)
        for key, value in (metadata or {}).items():
            entry = model_proto.metadata_props.add()
            entry.key, entry.value = str(key), str(value)
        onnx.checker.check_model(model_proto)
        onnx.save(model_proto, tmp)

    atomic_write(out_file, write, suffix='.onnx')
    return out_file


def verification_shapes(height: int, width: int
                        ) -> List[Tuple[int, int, int]]:
    """Input sizes (B, H, W) that test an export at (height, width).

    The export size with batch 1, then batch 2 at a second, non-square
    size (about 3/4 H x 5/4 W, multiples of 32), which fails unless batch,
    height and width are all dynamic. (128, 128) gives [(1, 128, 128),
    (2, 96, 160)].
    """
    h2 = max(32, int(height * 3 / 4) // 32 * 32)
    w2 = max(32, math.ceil(width * 5 / 4 / 32) * 32)
    if h2 == w2 or (h2, w2) == (height, width):
        w2 += 32
    return [(1, height, width), (2, h2, w2)]


def ort_session(onnx_file: str):
    """An ONNX Runtime CPU session whose idle threads sleep.

    ORT's worker threads spin after each run by default, which takes the
    cores from PyTorch running next to it (and from other jobs).
    """
    ort = require_package('onnxruntime', 'ONNX verification (--verify)')
    options = ort.SessionOptions()
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    options.add_session_config_entry('session.inter_op.allow_spinning', '0')
    return ort.InferenceSession(onnx_file, sess_options=options,
                                providers=['CPUExecutionProvider'])


@dataclass
class VerifyResult:
    """ONNX Runtime against PyTorch at one input size.

    Attributes:
        shape (tuple[int, int, int]): (B, H, W) of the input.
        max_abs_diff (float): max |ORT - PyTorch| over the logits
            (``inf`` if the output shapes differ).
        atol (float): The tolerance.
    """
    shape: Tuple[int, int, int]
    max_abs_diff: float
    atol: float

    @property
    def passed(self) -> bool:
        """Whether ``max_abs_diff <= atol``."""
        return self.max_abs_diff <= self.atol


def verify_onnx(module: nn.Module, onnx_file: str,
                shapes: Sequence[Tuple[int, int, int]],
                atol: float = DEFAULT_ATOL,
                seed: int = 0) -> List[VerifyResult]:
    """Run ``onnx_file`` in ONNX Runtime (CPU) and compare with ``module``.

    Args:
        module (nn.Module): The exported PyTorch module, in eval mode.
        onnx_file (str): The exported graph.
        shapes (Sequence[tuple[int, int, int]]): (B, H, W) sizes to test,
            e.g. :func:`verification_shapes`; inputs are standard normal
            [B, 3, H, W] (normalised images).
        atol (float): Largest accepted absolute difference.
        seed (int): Seed of the random inputs.

    Returns:
        list[VerifyResult]: One per shape, in order.

    Raises:
        ImportError: ``onnxruntime`` is not installed.
        ValueError: ``module`` is in training mode.
        RuntimeError: ONNX Runtime rejects an input size (e.g. the graph
            was exported without dynamic axes).
    """
    require_package('onnxruntime', 'ONNX verification (--verify)')
    if module.training:
        raise ValueError('module: call .eval() before verifying (BN '
                         'statistics and dropout differ in training mode)')
    session = ort_session(onnx_file)
    input_name = session.get_inputs()[0].name
    generator = torch.Generator().manual_seed(seed)
    results = []
    for batch, height, width in shapes:
        img = torch.randn(batch, 3, height, width, generator=generator)
        with torch.no_grad():
            expected = module(img).numpy()
        try:
            actual = session.run(None, {input_name: img.numpy()})[0]
        except Exception as err:  # onnxruntime's own exception types
            raise RuntimeError(
                f'ONNX Runtime failed on input [{batch}, 3, {height}, '
                f'{width}] (was the graph exported with dynamic axes?): '
                f'{err}') from err
        if actual.shape != expected.shape:
            diff = math.inf
        else:
            diff = float(np.abs(actual - expected).max())
        results.append(VerifyResult((batch, height, width), diff, atol))
    return results
