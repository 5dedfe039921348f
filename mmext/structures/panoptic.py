"""Encodings of COCO panoptic segment ids.

COCO panoptic PNGs store one segment id per pixel as an RGB colour,
``id = R + 256 G + 256^2 B``; id ``0`` (black) is unlabeled (VOID). mmdet's
panoptic predictions instead store ``label + instance * INSTANCE_OFFSET``
per pixel, with ``label == num_classes`` for VOID.
"""
import numpy as np

#: Segment id of unlabeled pixels in COCO panoptic maps.
VOID = 0
#: mmdet 3.x's stride between classes and instances in panoptic predictions
#: (``mmdet.evaluation.functional.INSTANCE_OFFSET``).
INSTANCE_OFFSET = 1000
#: One more than the largest id an RGB PNG can hold.
MAX_RGB_ID = 256**3


def rgb2id(rgb: np.ndarray) -> np.ndarray:
    """Decode an RGB panoptic image to segment ids.

    Args:
        rgb (np.ndarray): uint8 image of shape (H, W, 3), channels in RGB
            order (not OpenCV's BGR).

    Returns:
        np.ndarray: int64 ids of shape (H, W).
    """
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError('rgb2id expects an (H, W, 3) RGB image, got shape '
                         f'{rgb.shape}')
    rgb = rgb.astype(np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 256**2 * rgb[..., 2]


def id2rgb(ids: np.ndarray) -> np.ndarray:
    """Encode segment ids as an RGB image (the inverse of :func:`rgb2id`).

    Args:
        ids (np.ndarray): Integer ids of shape (H, W), each in
            ``[0, 256**3)``.

    Returns:
        np.ndarray: uint8 image of shape (H, W, 3), RGB order.
    """
    ids = np.asarray(ids).astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= MAX_RGB_ID):
        raise ValueError('id2rgb: ids must lie in [0, 256**3), got range '
                         f'[{ids.min()}, {ids.max()}]')
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 256**2], axis=-1)
    return rgb.astype(np.uint8)
