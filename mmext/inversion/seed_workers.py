"""GradInversion's seeds (restarts) split across CPU threads (Yin et al.,
"See through Gradients: Image Batch Recovery via GradInversion", CVPR
2021, arXiv 2104.07586, Sec. 3: |G| independent candidate batches).

The seeds' objectives are independent, so disjoint blocks of seeds can be
evaluated at the same time. On a CPU, torch's intra-op threads split each
operator across the cores, and the attack's operators (convolutions of a
few small images, their double backward) are too small to keep several
cores busy; ``W`` Python threads that each run ``1/W`` of the seeds with
``1/W`` of the intra-op threads keep them busy instead (PyTorch releases
the GIL inside its operators, and runs a CPU backward on the thread that
calls it). Each thread then runs its seeds one after the other: batching
them with :func:`torch.func.vmap` inside the threads was slower, its
Python-side work contending for the GIL (docs/benchmarks.md).

Each thread needs its own victim: :func:`torch.func.functional_call`
swaps a module's parameters while it runs and forward hooks (the BN
prior's) fire for every caller, so two threads must never share one
module. :class:`Victim` pairs a model with its BN prior; worker 0 uses the
attack's own, the others deep copies.
"""
import copy
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Sequence, TypeVar

import torch
from torch import nn

from .objective import BNStatisticsPrior

Result = TypeVar('Result')


@dataclass
class Victim:
    """One thread's attacked model and the BN prior hooked onto it.

    Attributes:
        model (nn.Module): The attacked classifier (or a copy of it).
        bn_prior (BNStatisticsPrior, optional): Its BN prior; None when the
            BN prior is off.
    """
    model: nn.Module
    bn_prior: Optional[BNStatisticsPrior]


def resolve_seed_workers(seed_workers: Optional[int], num_seeds: int,
                         device: torch.device) -> int:
    """How many threads evaluate the seeds.

    Args:
        seed_workers (int, optional): The setting; None chooses: on a CPU
            one thread per intra-op thread torch may use
            (:func:`torch.get_num_threads`), at most one per seed; on any
            other device 1 (its kernels run asynchronously anyway).
        num_seeds (int): The attack's seeds.
        device (torch.device): Where the attack runs.

    Returns:
        int: Between 1 and ``num_seeds``.
    """
    if seed_workers is None:
        seed_workers = (torch.get_num_threads()
                        if device.type == 'cpu' else 1)
    return max(1, min(seed_workers, num_seeds))


def seed_blocks(num_seeds: int, workers: int) -> List[range]:
    """Contiguous, near-equal blocks of seed indices, one per worker.

    Args:
        num_seeds (int): G.
        workers (int): W, 1 <= W <= G.

    Returns:
        list[range]: W ranges covering ``range(G)`` in order.
    """
    return [range(w * num_seeds // workers, (w + 1) * num_seeds // workers)
            for w in range(workers)]


def build_victims(model: nn.Module, bn_prior: Optional[BNStatisticsPrior],
                  workers: int) -> List[Victim]:
    """One :class:`Victim` per worker: the model itself, then deep copies.

    Args:
        model (nn.Module): The attacked model (eval mode).
        bn_prior (BNStatisticsPrior, optional): Its BN prior (None: off).
        workers (int): W.

    Returns:
        list[Victim]: W victims; those after the first own a copy of the
        model (same weights and buffers) and a BN prior on that copy with
        the same first-layer multiplier.
    """
    victims = [Victim(model, bn_prior)]
    for _ in range(workers - 1):
        twin = copy.deepcopy(model)
        victims.append(
            Victim(
                twin,
                BNStatisticsPrior(twin, bn_prior.first_bn_multiplier)
                if bn_prior is not None else None))
    return victims


@contextmanager
def intra_op_threads(count: int) -> Iterator[None]:
    """Set torch's intra-op thread count (process-wide) for the block."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def run_on_workers(work: Callable[[range, Victim], Result],
                   blocks: Sequence[range],
                   victims: Sequence[Victim]) -> List[Result]:
    """``work(block, victim)`` for every block, at the same time.

    With one block it runs on the calling thread, unchanged. With ``W``
    blocks, ``W`` threads share the intra-op threads torch had (at least
    one each) while they run; torch's setting is restored afterwards.

    Args:
        work (Callable): One block of seeds and its victim -> a result.
        blocks (Sequence[range]): W blocks (:func:`seed_blocks`).
        victims (Sequence[Victim]): W victims (:func:`build_victims`).

    Returns:
        list: The W results, in block order.
    """
    if len(blocks) == 1:
        return [work(blocks[0], victims[0])]
    share = max(1, torch.get_num_threads() // len(blocks))
    with intra_op_threads(share), ThreadPoolExecutor(len(blocks)) as pool:
        return list(pool.map(work, blocks, victims))
