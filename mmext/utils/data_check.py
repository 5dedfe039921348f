"""Check that the files a config's datasets read exist, before a run starts.

``tools/train.py`` and ``tools/test.py`` call :func:`check_dataset_paths`
before they build the runner, so a missing data set fails in a second with a
message that names the path and the fix, instead of deep inside a dataset's
``load_data_list`` after the model was built.

The paths are resolved the way :class:`mmengine.dataset.BaseDataset` does
(``data_root`` joined to a relative ``ann_file`` and to each relative
``data_prefix`` value; relative paths are relative to the working
directory). Wrappers are followed through ``dataset=`` and ``datasets=[...]``.

Paths under a Shapes data root (mmext's synthetic suite, ``data/shapes`` by
default) get the exact command that generates the data. A config may set two
top-level variables:

- ``shapes_preset``: the generator preset (default ``'demo'``). A config that
  sets it declares that its datasets are Shapes data, so each dataset's
  ``data_root`` is taken as the generator's output folder.
- ``shapes_root``: the generator's output folder, when it is not
  ``data/shapes`` and not the datasets' ``data_root``.
"""
import os.path as osp
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, \
    Tuple

#: The dataloaders :func:`check_dataset_paths` walks by default.
DATALOADER_KEYS: Tuple[str, ...] = ('train_dataloader', 'val_dataloader',
                                    'test_dataloader')
#: Where ``make demo`` writes the Shapes suite.
SHAPES_DEFAULT_ROOT = 'data/shapes'
#: The preset used when a config does not set ``shapes_preset``.
SHAPES_DEFAULT_PRESET = 'demo'


def shapes_command(preset: str = SHAPES_DEFAULT_PRESET,
                   out: str = SHAPES_DEFAULT_ROOT) -> str:
    """Return the command that generates the Shapes suite.

    Args:
        preset (str): Generator preset. Defaults to ``'demo'``.
        out (str): Output folder. Defaults to ``'data/shapes'``.

    Returns:
        str: e.g. ``python tools/misc/make_shapes.py --preset demo --out
        data/shapes``.
    """
    return (f'python tools/misc/make_shapes.py --preset {preset} '
            f'--out {_strip_sep(out)}')


def iter_dataset_paths(cfg: Mapping,
                       keys: Sequence[str] = DATALOADER_KEYS
                       ) -> Iterator[Tuple[str, str, Optional[str]]]:
    """Yield every local path the datasets of ``cfg`` read.

    Args:
        cfg (Mapping): A config (``mmengine.Config`` or dict).
        keys (Sequence[str]): Top-level dataloader keys to walk.

    Yields:
        tuple[str, str, str | None]: ``(path, field, data_root)``: the
        resolved path, the config field it comes from (e.g.
        ``'train_dataloader.dataset.dataset.ann_file'``) and the dataset's
        ``data_root`` (``None`` if unset).
    """
    for key in keys:
        loader = cfg.get(key, None)
        if not isinstance(loader, Mapping):
            continue
        dataset = loader.get('dataset', None)
        if isinstance(dataset, Mapping):
            yield from _iter_one_dataset(dataset, f'{key}.dataset')


def check_dataset_paths(cfg: Mapping,
                        keys: Sequence[str] = DATALOADER_KEYS) -> None:
    """Raise if a file or folder that the config's datasets read is missing.

    Args:
        cfg (Mapping): A config (``mmengine.Config`` or dict).
        keys (Sequence[str]): Top-level dataloader keys to walk. Defaults
            to ``('train_dataloader', 'val_dataloader', 'test_dataloader')``;
            ``tools/train.py`` checks the first two, ``tools/test.py`` the
            last one.

    Raises:
        FileNotFoundError: Lists every missing path with its config field.
            For paths under a Shapes data root it gives the command that
            generates the data (``python tools/misc/make_shapes.py --preset
            demo --out data/shapes``); otherwise it says how to point the
            config at the data.
    """
    missing: List[Tuple[str, str, Optional[str]]] = []
    seen = set()
    for path, field, data_root in iter_dataset_paths(cfg, keys):
        if path in seen or osp.exists(path):
            continue
        seen.add(path)
        missing.append((path, field, data_root))
    if missing:
        raise FileNotFoundError(_format_message(cfg, missing))


def _iter_one_dataset(dataset: Mapping, prefix: str
                      ) -> Iterator[Tuple[str, str, Optional[str]]]:
    """Yield the paths of one dataset config and of the datasets it wraps."""
    inner = dataset.get('dataset', None)
    if isinstance(inner, Mapping):
        yield from _iter_one_dataset(inner, f'{prefix}.dataset')
    inners = dataset.get('datasets', None)
    if isinstance(inners, (list, tuple)):
        for i, sub in enumerate(inners):
            if isinstance(sub, Mapping):
                yield from _iter_one_dataset(sub, f'{prefix}.datasets[{i}]')

    data_root = dataset.get('data_root', None) or None
    ann_files = dataset.get('ann_file', None)
    if isinstance(ann_files, str):
        ann_files = [ann_files]
    if isinstance(ann_files, (list, tuple)):
        for i, ann_file in enumerate(ann_files):
            suffix = '' if len(ann_files) == 1 else f'[{i}]'
            if isinstance(ann_file, str) and ann_file:
                yield from _resolved(ann_file, data_root,
                                     f'{prefix}.ann_file{suffix}')

    data_prefix = dataset.get('data_prefix', None)
    if isinstance(data_prefix, str):
        yield from _resolved(data_prefix, data_root, f'{prefix}.data_prefix')
    elif isinstance(data_prefix, Mapping):
        for name, value in data_prefix.items():
            if isinstance(value, str):
                yield from _resolved(value, data_root,
                                     f'{prefix}.data_prefix.{name}')


def _resolved(path: str, data_root: Optional[str], field: str
              ) -> Iterator[Tuple[str, str, Optional[str]]]:
    """Join ``path`` to ``data_root`` like ``BaseDataset._join_prefix``.

    Remote URIs (``s3://``, ``http://``) are skipped: they cannot be checked
    without the dataset's file backend.
    """
    if not path and not data_root:
        return
    if '://' in path or (data_root and '://' in data_root):
        return
    if data_root and not osp.isabs(path):
        path = osp.join(data_root, path) if path else data_root
    yield _strip_sep(path), field, data_root


def _strip_sep(path: str) -> str:
    """Drop trailing separators (``'data/shapes/'`` -> ``'data/shapes'``)."""
    stripped = path.rstrip('/\\')
    return stripped or path


def _shapes_root(cfg: Mapping, path: str,
                 data_root: Optional[str]) -> Optional[str]:
    """Return the Shapes output folder that ``path`` lies under, if any."""
    candidates = []
    if cfg.get('shapes_root', None):
        candidates.append(str(cfg['shapes_root']))
    for root in candidates:
        if _is_under(path, root):
            return _strip_sep(root)
    parts = osp.normpath(path).replace('\\', '/').split('/')
    for i in range(len(parts) - 1):
        if parts[i] == 'data' and parts[i + 1] == 'shapes':
            return '/'.join(parts[:i + 2]) or SHAPES_DEFAULT_ROOT
    if cfg.get('shapes_preset', None) and data_root:
        return _strip_sep(data_root)
    return None


def _is_under(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or lies below it (lexically)."""
    path, root = osp.normpath(path), osp.normpath(root)
    return path == root or path.startswith(root.rstrip(osp.sep) + osp.sep)


def _format_message(cfg: Mapping,
                    missing: List[Tuple[str, str, Optional[str]]]) -> str:
    """Build the error message for the missing paths."""
    preset = str(cfg.get('shapes_preset', None) or SHAPES_DEFAULT_PRESET)
    lines = ['Data not found: this config reads paths that do not exist '
             f'(relative to {osp.abspath(".")}):']
    shapes_roots: Dict[str, None] = {}
    other: List[Any] = []
    for path, field, data_root in missing:
        lines.append(f'  - {path}  ({field})')
        root = _shapes_root(cfg, path, data_root)
        if root is not None:
            shapes_roots[root] = None
        else:
            other.append(field)
    for root in shapes_roots:
        lines.append(f'These are Shapes data (under {root!r}); generate '
                     'them with:')
        lines.append(f'    {shapes_command(preset, root)}')
    if other:
        field = other[0]
        root_field = field.rsplit('.', 1)[0]
        if root_field.endswith('.data_prefix'):
            root_field = root_field.rsplit('.', 1)[0]
        lines.append(
            'Prepare the data set there (see the config folder\'s README), '
            'or point the config at it, e.g. '
            f'--cfg-options {root_field}.data_root=/path/to/data')
    return '\n'.join(lines)
