"""Readers and writers of the DTU multi-view-stereo files.

The DTU data set (Aanaes et al., "Large-Scale Data for Multiple-View
Stereopsis", IJCV 2016) as pre-processed for MVSNet and read by the
CVP-MVSNet reference (Yang et al., "Cost Volume Pyramid Based Depth
Inference for Multi-View Stereo", CVPR 2020, public repository
JiayuYANG/CVP-MVSNet, ``dataset/dataPaths.py``)::

    {root}/scan_list_train.txt, scan_list_test.txt   scan names, e.g. scan1
    {root}/Cameras/{view:08d}_cam.txt                one camera per view,
    {root}/Cameras/pair.txt                          common to all scans
    {root}/Rectified/{scan}_train/rect_{view+1:03d}_{light}_r5000.png
    {root}/Rectified/{scan}/rect_{view+1:03d}_3_r5000.png      (test)
    {root}/Depths/{scan}_train/depth_map_{view:04d}.pfm
    {root}/Points/stl/stl{number:03d}_total.ply      ground-truth points

View ids are 0-based everywhere except in image names (``view + 1``).

Test cameras: the reference reads the cameras of the test split from the
same ``Cameras/{view:08d}_cam.txt`` of the test data root, for every scan
(``getCameraFile`` in ``dataset/dataPaths.py`` ignores the mode, and
``eval.py``'s fusion reads ``Cameras/{view:0>8}_cam.txt`` too); the
per-scan ``{scan}/cams/`` folders of some MVSNet releases are not read.
The reference's training root (128x160 images) and test root (1200x1600)
are therefore two separate roots, each with cameras matching its images;
:meth:`DTULayout.test_cam_file` names the file the reader reads.

All writers write atomically (a temporary file in the target directory and
``os.replace``) and create the parent directories; all readers raise
``ValueError`` naming the file, the line and what was expected.
"""
import math
import os
import os.path as osp
import re
from dataclasses import dataclass
from typing import (Collection, Dict, List, Mapping, Optional, Sequence, Tuple,
                    Union)

import numpy as np

from mmext.utils.atomic import atomic_write

__all__ = [
    'MVSCamera', 'DTULayout', 'read_cam_txt', 'write_cam_txt', 'read_pair_txt',
    'write_pair_txt', 'check_pairs', 'read_pfm', 'write_pfm', 'read_scan_list',
    'write_scan_list', 'scan_number'
]

PathLike = Union[str, os.PathLike]
#: ``ref view -> [(src view, score), ...]``, best source first.
Pairs = Dict[int, List[Tuple[int, float]]]


# --------------------------------------------------------------------------
# Cameras
# --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class MVSCamera:
    """One view's camera as a DTU ``cam.txt`` holds it.

    The arrays are stored as read-only float64 copies. Equality is identity
    (arrays have no single truth value); compare fields with numpy.

    Attributes:
        extrinsic: ``[4, 4]`` world-to-camera matrix ``[R | t; 0 0 0 1]``
            (DTU: millimetres).
        intrinsic: ``[3, 3]`` pinhole matrix ``K`` in pixels of the image
            the camera belongs to.
        depth_min: Nearest depth hypothesis (DTU: 425).
        depth_interval: Spacing of the hypotheses (DTU: 2.5).
    """
    extrinsic: np.ndarray
    intrinsic: np.ndarray
    depth_min: float
    depth_interval: float

    def __post_init__(self) -> None:
        for name, shape in (('extrinsic', (4, 4)), ('intrinsic', (3, 3))):
            value = np.array(getattr(self, name), dtype=np.float64)
            if value.shape != shape:
                raise ValueError(f'MVSCamera.{name} must have shape {shape}, '
                                 f'got {value.shape}')
            if not np.isfinite(value).all():
                raise ValueError(f'MVSCamera.{name} has non-finite values')
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        for name in ('depth_min', 'depth_interval'):
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise ValueError(f'MVSCamera.{name} must be finite, got '
                                 f'{value}')
            object.__setattr__(self, name, value)

    def depth_max(self, num_intervals: int = 256) -> float:
        """``depth_min + num_intervals * depth_interval`` (CVP-MVSNet: 256
        intervals)."""
        return self.depth_min + num_intervals * self.depth_interval


def _parse_numbers(text: str, where: str) -> List[float]:
    """The whitespace-separated finite numbers of ``text``."""
    numbers = []
    for token in text.split():
        try:
            value = float(token)
        except ValueError:
            raise ValueError(f'{where}: {token!r} is not a number') from None
        if not math.isfinite(value):
            raise ValueError(f'{where}: {token!r} is not a finite number')
        numbers.append(value)
    return numbers


def read_cam_txt(path: PathLike) -> MVSCamera:
    """Read a DTU/MVSNet ``cam.txt``.

    Format (blank lines between sections are optional)::

        extrinsic
        r11 r12 r13 t1          4 rows of 4: world-to-camera
        ...
        intrinsic
        fx 0 cx                 3 rows of 3
        ...
        depth_min depth_interval [num_depth depth_max]

    Args:
        path: The file.

    Returns:
        The camera; extra numbers on the depth line are ignored.

    Raises:
        ValueError: Naming the file and the line: a missing section, a row
            with the wrong count of numbers, a token that is not a finite
            number, or a singular extrinsic.
        FileNotFoundError: ``path`` does not exist.
    """
    path = str(path)
    with open(path, encoding='utf-8') as handle:
        lines = handle.read().splitlines()
    # (1-based line number, stripped text) of the non-empty lines.
    content = [(i + 1, line.strip()) for i, line in enumerate(lines)
               if line.strip()]
    pos = 0

    def header(name: str) -> None:
        nonlocal pos
        if pos >= len(content):
            raise ValueError(f'cam.txt {path!r}: missing section {name!r} '
                             'at the end of the file')
        lineno, text = content[pos]
        if text.lower() != name:
            raise ValueError(f'cam.txt {path!r} line {lineno}: expected '
                             f'the section header {name!r}, found {text!r}')
        pos += 1

    def matrix(name: str, size: int) -> np.ndarray:
        nonlocal pos
        rows = []
        for r in range(size):
            if pos >= len(content):
                raise ValueError(f'cam.txt {path!r}: {name} has {r} rows, '
                                 f'expected {size} (file ends)')
            lineno, text = content[pos]
            where = f'cam.txt {path!r} line {lineno} ({name} row {r + 1})'
            numbers = _parse_numbers(text, where)
            if len(numbers) != size:
                raise ValueError(
                    f'cam.txt {path!r} line {lineno}: {name} row {r + 1} '
                    f'has {len(numbers)} numbers, expected {size}')
            rows.append(numbers)
            pos += 1
        return np.array(rows, dtype=np.float64)

    header('extrinsic')
    extrinsic = matrix('extrinsic', 4)
    header('intrinsic')
    intrinsic = matrix('intrinsic', 3)
    if pos >= len(content):
        raise ValueError(f'cam.txt {path!r}: missing the depth line '
                         '"depth_min depth_interval" after the intrinsic')
    lineno, text = content[pos]
    where = f'cam.txt {path!r} line {lineno} (depth range)'
    numbers = _parse_numbers(text, where)
    if len(numbers) < 2:
        raise ValueError(f'{where}: has {len(numbers)} numbers, expected at '
                         'least 2: "depth_min depth_interval"')
    if abs(np.linalg.det(extrinsic[:3, :3])) < 1e-12:
        raise ValueError(f'cam.txt {path!r}: the extrinsic rotation is '
                         'singular (not invertible); expected a '
                         'world-to-camera [R | t] with det(R) != 0')
    if not np.allclose(extrinsic[3], (0, 0, 0, 1)):
        raise ValueError(f'cam.txt {path!r}: extrinsic row 4 is '
                         f'{extrinsic[3].tolist()}, expected [0, 0, 0, 1]')
    return MVSCamera(extrinsic, intrinsic, numbers[0], numbers[1])


def write_cam_txt(path: PathLike, camera: MVSCamera) -> None:
    """Write ``camera`` as a DTU ``cam.txt`` (exact float round trip).

    Args:
        path: The file; parent directories are created.
        camera: The camera.
    """

    def fmt(values) -> str:
        return ' '.join(repr(float(v)) for v in values)

    text = ['extrinsic']
    text += [fmt(row) for row in camera.extrinsic]
    text += ['', 'intrinsic']
    text += [fmt(row) for row in camera.intrinsic]
    text += ['', fmt((camera.depth_min, camera.depth_interval)), '']
    _write_text(path, '\n'.join(text), '.txt')


# --------------------------------------------------------------------------
# View pairs
# --------------------------------------------------------------------------
def read_pair_txt(path: PathLike) -> Pairs:
    """Read ``pair.txt``: each reference view's source views, best first.

    Format::

        N                        number of views
        ref                      then N times: the reference view id
        M src1 score1 src2 score2 ...   and its M source views

    Args:
        path: The file.

    Returns:
        ``{ref: [(src, score), ...]}`` in file order.

    Raises:
        ValueError: Naming the file and the line: a count that does not
            match, a truncated file, a duplicate reference view, text that
            is not a number, or lines after the last view.
    """
    path = str(path)
    with open(path, encoding='utf-8') as handle:
        lines = [(i + 1, line.split())
                 for i, line in enumerate(handle.read().splitlines())
                 if line.strip()]
    if not lines:
        raise ValueError(f'pair.txt {path!r} is empty; expected the number '
                         'of views on the first line')

    def integer(token: str, lineno: int, what: str) -> int:
        try:
            return int(token)
        except ValueError:
            raise ValueError(f'pair.txt {path!r} line {lineno}: {what} '
                             f'{token!r} is not an integer') from None

    lineno, tokens = lines[0]
    if len(tokens) != 1:
        raise ValueError(f'pair.txt {path!r} line {lineno}: expected the '
                         f'number of views alone, found {" ".join(tokens)!r}')
    num_views = integer(tokens[0], lineno, 'the number of views')
    if num_views < 0:
        raise ValueError(f'pair.txt {path!r} line {lineno}: negative number '
                         f'of views {num_views}')
    expected_lines = 1 + 2 * num_views
    if len(lines) < expected_lines:
        found = (len(lines) - 1) // 2
        raise ValueError(
            f'pair.txt {path!r} is truncated: line {lineno} announces '
            f'{num_views} views but the file holds {found} complete entries '
            f'(ends at line {lines[-1][0]})')
    if len(lines) > expected_lines:
        raise ValueError(
            f'pair.txt {path!r} line {lines[expected_lines][0]}: unexpected '
            f'text after the {num_views} views announced on line {lineno}')
    pairs: Pairs = {}
    for k in range(num_views):
        ref_lineno, ref_tokens = lines[1 + 2 * k]
        if len(ref_tokens) != 1:
            raise ValueError(f'pair.txt {path!r} line {ref_lineno}: expected '
                             'a reference view id alone, found '
                             f'{" ".join(ref_tokens)!r}')
        ref = integer(ref_tokens[0], ref_lineno, 'reference view')
        if ref in pairs:
            raise ValueError(f'pair.txt {path!r} line {ref_lineno}: '
                             f'reference view {ref} appears twice')
        src_lineno, src_tokens = lines[2 + 2 * k]
        count = integer(src_tokens[0], src_lineno, 'source count')
        if len(src_tokens) != 1 + 2 * count:
            raise ValueError(
                f'pair.txt {path!r} line {src_lineno}: reference view {ref} '
                f'announces {count} source views, expected {1 + 2 * count} '
                f'tokens "M id1 score1 ...", found {len(src_tokens)}')
        sources = []
        for j in range(count):
            src = integer(src_tokens[1 + 2 * j], src_lineno, 'source view')
            where = f'pair.txt {path!r} line {src_lineno}'
            score = _parse_numbers(src_tokens[2 + 2 * j], where)[0]
            sources.append((src, score))
        pairs[ref] = sources
    return pairs


def write_pair_txt(path: PathLike,
                   pairs: Mapping[int, Sequence[Tuple[int, float]]]) -> None:
    """Write ``pairs`` (``{ref: [(src, score), ...]}``) as ``pair.txt``.

    Args:
        path: The file; parent directories are created.
        pairs: Reference views in the order to write, each with its
            source views, best first.
    """
    text = [str(len(pairs))]
    for ref, sources in pairs.items():
        text.append(str(int(ref)))
        row = [str(len(sources))]
        for src, score in sources:
            row += [str(int(src)), repr(float(score))]
        text.append(' '.join(row))
    _write_text(path, '\n'.join(text) + '\n', '.txt')


def check_pairs(pairs: Mapping[int, Sequence[Tuple[int, float]]],
                num_views: int,
                path: PathLike,
                available: Optional[Collection[int]] = None) -> None:
    """Check that every view ``pairs`` names exists.

    Args:
        pairs: As :func:`read_pair_txt` returns.
        num_views: Views are ``0 .. num_views - 1``.
        path: The pair file, for the messages.
        available: If given, the views that have a camera (and image);
            others are missing too.

    Raises:
        ValueError: Naming the file, the reference view and the missing
            view.
    """

    def missing(view: int) -> bool:
        return (not 0 <= view < num_views
                or (available is not None and view not in available))

    for ref, sources in pairs.items():
        if missing(ref):
            raise ValueError(
                f'pair.txt {str(path)!r}: reference view {ref} does not '
                f'exist (views 0..{num_views - 1}'
                f'{" with a camera" if available is not None else ""})')
        for src, _ in sources:
            if missing(src):
                raise ValueError(
                    f'pair.txt {str(path)!r}: reference view {ref} names '
                    f'source view {src}, which does not exist (views '
                    f'0..{num_views - 1}'
                    f'{" with a camera" if available is not None else ""})')


# --------------------------------------------------------------------------
# PFM depth maps
# --------------------------------------------------------------------------
def read_pfm(path: PathLike) -> np.ndarray:
    """Read a PFM image.

    Args:
        path: The file: header ``Pf`` (grey) or ``PF`` (colour), a line
            ``W H``, a scale line whose sign gives the byte order (negative:
            little-endian), then float32 rows stored bottom-to-top.

    Returns:
        Native float32 ``[H, W]`` (``Pf``) or ``[H, W, 3]`` (``PF``), first
        row at the top.

    Raises:
        ValueError: Naming the file: a bad header, or data that does not
            hold ``W * H * C`` floats.
    """
    path = str(path)
    with open(path, 'rb') as handle:
        kind = handle.readline().rstrip(b'\r\n').strip()
        if kind not in (b'PF', b'Pf'):
            raise ValueError(f'PFM {path!r}: header {kind[:16]!r}, expected '
                             "'PF' (colour) or 'Pf' (grey)")
        dims = handle.readline().split()
        try:
            width, height = (int(d) for d in dims)
            if width <= 0 or height <= 0:
                raise ValueError
        except ValueError:
            raise ValueError(f'PFM {path!r}: size line {dims!r}, expected '
                             'two positive integers "W H"') from None
        scale_line = handle.readline().strip()
        try:
            scale = float(scale_line)
            if scale == 0 or not math.isfinite(scale):
                raise ValueError
        except ValueError:
            raise ValueError(f'PFM {path!r}: scale line {scale_line!r}, '
                             'expected a non-zero number (negative: '
                             'little-endian)') from None
        data = handle.read()
    channels = 3 if kind == b'PF' else 1
    expected = width * height * channels * 4
    if len(data) != expected:
        raise ValueError(
            f'PFM {path!r}: {"truncated" if len(data) < expected else "extra"}'
            f' data: {len(data)} bytes, expected {expected} for '
            f'{width}x{height}x{channels} float32')
    dtype = np.dtype('<f4' if scale < 0 else '>f4')
    array = np.frombuffer(data, dtype=dtype)
    shape = (height, width, 3) if channels == 3 else (height, width)
    return np.flipud(array.reshape(shape)).astype(np.float32)


def write_pfm(path: PathLike, array: np.ndarray) -> None:
    """Write a float32 ``[H, W]`` or ``[H, W, 3]`` array as little-endian
    PFM (scale -1, rows bottom-to-top).

    Args:
        path: The file; parent directories are created.
        array: Real numbers, converted to float32.

    Raises:
        ValueError: ``array`` has another shape or is not real-valued.
    """
    array = np.asarray(array)
    if not (np.issubdtype(array.dtype, np.floating)
            or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f'write_pfm {str(path)!r}: dtype {array.dtype} is '
                         'not real-valued; expected float32')
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise ValueError(f'write_pfm {str(path)!r}: shape {array.shape}, '
                         'expected [H, W] or [H, W, 3]')
    height, width = array.shape[:2]
    kind = 'PF' if array.ndim == 3 else 'Pf'
    header = f'{kind}\n{width} {height}\n-1.0\n'.encode('ascii')
    body = np.ascontiguousarray(np.flipud(array), dtype='<f4').tobytes()

    def write(tmp: str) -> None:
        with open(tmp, 'wb') as handle:
            handle.write(header)
            handle.write(body)

    atomic_write(str(path), write, suffix='.pfm')


# --------------------------------------------------------------------------
# Scan lists
# --------------------------------------------------------------------------
def read_scan_list(path: PathLike) -> List[str]:
    """Read a scan list: whitespace-separated names (``scan1`` ...).

    Raises:
        ValueError: The list is empty or names a scan twice.
    """
    path = str(path)
    with open(path, encoding='utf-8') as handle:
        scans = handle.read().split()
    if not scans:
        raise ValueError(f'scan list {path!r} is empty; expected scan names '
                         'such as scan1, one per line')
    seen = set()
    for scan in scans:
        if scan in seen:
            raise ValueError(f'scan list {path!r} names {scan!r} twice')
        seen.add(scan)
    return scans


def write_scan_list(path: PathLike, scans: Sequence[str]) -> None:
    """Write ``scans`` one per line.

    Raises:
        ValueError: A name is empty or holds whitespace.
    """
    for scan in scans:
        if not isinstance(scan, str) or not scan or len(scan.split()) != 1:
            raise ValueError(f'write_scan_list {str(path)!r}: scan name '
                             f'{scan!r} must be a non-empty string without '
                             'whitespace')
    _write_text(path, ''.join(f'{scan}\n' for scan in scans), '.txt')


def scan_number(scan: str) -> int:
    """``'scan1'`` -> 1 (the number in DTU's file names)."""
    match = re.fullmatch(r'scan(\d+)', scan)
    if match is None:
        raise ValueError(f'scan name {scan!r}: expected "scan<number>", '
                         'e.g. scan1')
    return int(match.group(1))


def _write_text(path: PathLike, text: str, suffix: str) -> None:

    def write(tmp: str) -> None:
        with open(tmp, 'w', encoding='utf-8', newline='\n') as handle:
            handle.write(text)

    atomic_write(str(path), write, suffix=suffix)


# --------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------
class DTULayout:
    """The paths of a DTU root in the CVP-MVSNet reference layout.

    ``scan`` arguments are names as in the scan list (``'scan1'``); views
    are 0-based.

    Args:
        root: The data root.
    """

    #: Light index of the test images.
    TEST_LIGHT = 3

    def __init__(self, root: PathLike) -> None:
        self.root = str(root)

    def _join(self, *parts: str) -> str:
        return osp.join(self.root, *parts)

    def cam_file(self, view: int) -> str:
        """``Cameras/{view:08d}_cam.txt``, common to all scans."""
        return self._join('Cameras', f'{view:08d}_cam.txt')

    def test_cam_file(self, scan: str, view: int) -> str:
        """The camera the test split reads: the same common
        ``Cameras/{view:08d}_cam.txt`` (the reference's ``getCameraFile``
        ignores scan and mode), so it must match the test images' size.
        ``scan`` is accepted for symmetry and ignored."""
        del scan
        return self.cam_file(view)

    def pair_file(self) -> str:
        """``Cameras/pair.txt``, common to all scans and both splits."""
        return self._join('Cameras', 'pair.txt')

    def train_image(self, scan: str, view: int, light: int) -> str:
        """``Rectified/{scan}_train/rect_{view+1:03d}_{light}_r5000.png``."""
        return self._join('Rectified', f'{scan}_train',
                          f'rect_{view + 1:03d}_{light}_r5000.png')

    def test_image(self, scan: str, view: int) -> str:
        """``Rectified/{scan}/rect_{view+1:03d}_3_r5000.png``."""
        return self._join('Rectified', scan,
                          f'rect_{view + 1:03d}_{self.TEST_LIGHT}_r5000.png')

    def image(self, split: str, scan: str, view: int, light: int) -> str:
        """:meth:`train_image` or :meth:`test_image` (light ignored)."""
        if split == 'train':
            return self.train_image(scan, view, light)
        return self.test_image(scan, view)

    def depth_file(self, scan: str, view: int, split: str = 'train') -> str:
        """``Depths/{scan}_train/depth_map_{view:04d}.pfm``; for the test
        split ``Depths/{scan}/...`` (the reference's ``getDepthFile``)."""
        folder = f'{scan}_train' if split == 'train' else scan
        return self._join('Depths', folder, f'depth_map_{view:04d}.pfm')

    def scan_list(self, split: str) -> str:
        """``scan_list_{split}.txt``."""
        return self._join(f'scan_list_{split}.txt')

    def points_file(self, scan_number: int) -> str:
        """``Points/stl/stl{scan_number:03d}_total.ply`` (DTU's structured
        light ground-truth point cloud)."""
        return self._join('Points', 'stl', f'stl{scan_number:03d}_total.ply')

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.root!r})'
