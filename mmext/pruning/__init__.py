"""mmext.pruning: structural pruning in plain PyTorch.

The parts HALP (Shen et al., "Structural Pruning via Latency-Saliency
Knapsack", NeurIPS 2022, arXiv 2110.10811) and EPI are made of, each behind
one small interface:

- :mod:`.graph`: coupled channel groups (Torch-Pruning's dependency graph);
- :mod:`.importance`: BN-Taylor and magnitude saliency;
- :mod:`.latency`: layer signatures, the latency lookup table, measurement
  and :class:`~.latency.LatencyModel`;
- :mod:`.knapsack`: the exact multiple-choice latency knapsack;
- :mod:`.allocation`: one pruning step (knapsack or uniform widths);
- :mod:`.schedule`: when to prune and to which latency;
- :mod:`.masks`: zeroing pruned channels while training;
- :mod:`.record`: the pruning history kept in checkpoints;
- :mod:`.export`: physical slimming (configs reach it as
  ``mmext.PrunedModel``, :mod:`mmext.models.pruned_model`);
- :mod:`.slim_training`: slimming mid-training (optimiser state, EMA);
- :mod:`.epi`: EPI's architecture similarity, indicator and trigger.

The MMEngine side is :class:`mmext.engine.hooks.HALPHook` and
:class:`mmext.engine.hooks.EPIHook` (Shen et al., "When to Prune?", CVPR
2022) on their shared base
:class:`mmext.engine.hooks.pruning_hook.BasePruningHook`; no module of this
package imports MMEngine.
"""
from .epi import architecture_similarity, epi_score
from .knapsack import knapsack_cost, knapsack_value, latency_knapsack

__all__ = [
    'latency_knapsack', 'knapsack_value', 'knapsack_cost',
    'architecture_similarity', 'epi_score'
]
