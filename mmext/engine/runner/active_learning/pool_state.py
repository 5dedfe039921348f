"""The state of an active-learning pool: which images are labelled, which
carry pseudo-labels, their last acquisition scores and the history of the
cycles, as written to ``<work_dir>/pool_state/cycle_<k>.json`` and into the
checkpoints of :class:`mmext.ActiveLearningLoop`.

The cycle bookkeeping follows Elezi et al., "Not All Labels Are Equal:
Rationalizing the Labeling Costs for Training Object Detection" (CVPR 2022,
arXiv 2106.11921), Sec. 3: train, score the unlabelled pool, label a budget,
pseudo-label the rest, retrain.

Images are named by their ``img_id`` (the COCO image id, the VOC file
stem), so a state file stays valid however the data set orders or filters
its images. Ids are ints or strings; keys of JSON objects are their
``str``.
"""
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from mmext.utils.atomic import atomic_write

#: The format written; a file of another version is refused.
FORMAT_VERSION = 1

#: An image id as the data set gives it.
ImageId = Union[int, str]


@dataclass
class PseudoLabels:
    """The pseudo-labels of one image, in original-image pixels.

    Attributes:
        bboxes: ``[K][4]`` boxes ``(x1, y1, x2, y2)``.
        labels: ``[K]`` class indices (the data set's order).
        scores: ``[K]`` detection scores that passed the threshold.
    """
    bboxes: List[List[float]]
    labels: List[int]
    scores: List[float]


@dataclass
class PoolState:
    """The labelled / pseudo-labelled split of a pool after some cycles.

    Attributes:
        seed: Seed of the initial random set.
        cycle: The cycle this split trains (0: the initial set).
        pool_ids: Every image id of the pool, in the data set's order.
        labelled: Labelled image ids, in the order they were labelled.
        pseudo: Pseudo-labels of unlabelled images (``str(img_id)`` keys,
            as JSON needs), recomputed every cycle.
        scores: The last acquisition's scores of the images it scored
            (``str(img_id)`` -> ``{'entropy': .., 'inconsistency': ..}``).
        history: One entry per finished cycle (its metrics, the ids it
            selected, their class histogram).
    """
    seed: int
    cycle: int
    pool_ids: List[ImageId]
    labelled: List[ImageId]
    pseudo: Dict[str, PseudoLabels] = field(default_factory=dict)
    scores: Dict[str, Dict[str, float]] = field(default_factory=dict)
    history: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def unlabelled(self) -> List[ImageId]:
        """Ids not yet labelled (pseudo-labelled ones included), in pool
        order."""
        labelled = set(self.labelled)
        return [i for i in self.pool_ids if i not in labelled]

    def label(self, ids: Sequence[ImageId]) -> None:
        """Move ``ids`` into the labelled set (simulated annotation).

        Raises:
            ValueError: An id is already labelled, repeated, or not in the
                pool.
        """
        ids = list(ids)
        known = set(self.pool_ids)
        labelled = set(self.labelled)
        bad = [i for i in ids if i not in known or i in labelled]
        if bad or len(set(ids)) != len(ids):
            raise ValueError(
                f'cannot label ids {bad or ids}: each must be in the pool '
                'and not yet labelled, once')
        self.labelled.extend(ids)
        for i in ids:
            self.pseudo.pop(str(i), None)

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready dict (the checkpoint keeps the same)."""
        return dict(format_version=FORMAT_VERSION, **asdict(self))

    @classmethod
    def from_dict(cls, data: Dict[str, Any], source: str) -> 'PoolState':
        """Rebuild a state from :meth:`to_dict`'s output.

        Args:
            data: The dict.
            source: Where it came from, for the error message (a config
                field or a file).
        """
        version = data.get('format_version')
        if version != FORMAT_VERSION:
            raise ValueError(f'{source}: pool state format {version!r}, '
                             f'expected {FORMAT_VERSION}')
        fields = {k: v for k, v in data.items() if k != 'format_version'}
        try:
            fields['pseudo'] = {
                k: PseudoLabels(**v)
                for k, v in fields.get('pseudo', {}).items()
            }
            return cls(**fields)
        except TypeError as error:
            raise ValueError(f'{source}: not a pool state ({error})') from None

    @classmethod
    def read(cls, path: str, source: Optional[str] = None) -> 'PoolState':
        """Read a state file (see :meth:`write`)."""
        with open(path, encoding='utf-8') as f:
            return cls.from_dict(json.load(f), source or path)

    def write(self, path: str) -> None:
        """Write the state as JSON atomically: an existing file is
        replaced only by a complete new one."""

        def dump(tmp: str) -> None:
            with open(tmp, 'w', encoding='utf-8') as f:
                json.dump(self.to_dict(), f, indent=1)

        atomic_write(path, dump, suffix='.json')

    def check_pool(self, pool_ids: Iterable[ImageId], source: str) -> None:
        """Refuse a state that belongs to another data set.

        Args:
            pool_ids: The image ids of the pool being trained.
            source: The config field or file the state came from.

        Raises:
            ValueError: Naming ``source`` and some unknown ids.
        """
        known = set(str(i) for i in pool_ids)
        unknown = sorted(
            set(map(str, self.pool_ids)) - known
            | set(map(str, self.labelled)) - known
            | set(self.pseudo) - known)
        if unknown:
            raise ValueError(
                f'{source}: the pool state names {len(unknown)} image ids '
                f'that the training pool does not have (e.g. {unknown[:5]}); '
                'it was written for another data set: point it to this data '
                'set\'s state or remove it')
        if len(set(map(str, self.pool_ids))) != len(known):
            raise ValueError(
                f'{source}: the pool state covers '
                f'{len(set(map(str, self.pool_ids)))} images, the training '
                f'pool has {len(known)}; it was written for another data set '
                '(or another filter_cfg)')
