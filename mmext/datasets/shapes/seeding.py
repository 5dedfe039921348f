"""Order-independent random streams.

Every image (scene or crop) draws from its own generator, derived from the
global seed, a stream name and the image's indices, so the bytes of one image
do not depend on which images were generated before it.
"""
import zlib

import numpy as np

# Stream names used by the generator (any string works; these are fixed so
# outputs stay reproducible across versions).
STREAMS = ('scene/train', 'scene/val', 'crop/train', 'crop/val',
           'long_tail/plan')


def stream_rng(seed: int, stream: str, *indices: int) -> np.random.Generator:
    """A generator for ``(seed, stream, *indices)``.

    Args:
        seed: The global, non-negative seed.
        stream: A name that separates independent uses (e.g. 'scene/train').
        *indices: Non-negative integers (image index, class index, ...).

    Returns:
        ``numpy.random.default_rng`` seeded from all of the above.
    """
    if seed < 0:
        raise ValueError(f'seed: must be >= 0, got {seed}')
    key = [int(seed), zlib.crc32(stream.encode('utf-8'))]
    key += [int(i) for i in indices]
    return np.random.default_rng(np.random.SeedSequence(key))
