"""mmext.deployment: export of mmext models to inference runtimes.

:mod:`.onnx_seg` exports mmseg segmentors (SegFormer, arXiv:2105.15203, and
any ``EncoderDecoder`` with a ``BaseDecodeHead``) to ONNX with dynamic batch,
height and width, and checks ONNX Runtime against PyTorch. The command-line
entry point is ``tools/deployment/pytorch2onnx_seg.py``.
"""
from .onnx_seg import (DEFAULT_ATOL, DEFAULT_OPSET, SegmentorLogits,
                       VerifyResult, build_segmentor, export_onnx,
                       ort_session, preprocess_metadata, verification_shapes,
                       verify_onnx)

__all__ = [
    'DEFAULT_ATOL', 'DEFAULT_OPSET', 'SegmentorLogits', 'VerifyResult',
    'build_segmentor', 'export_onnx', 'ort_session', 'preprocess_metadata',
    'verification_shapes', 'verify_onnx'
]
