"""mmext.datasets.samplers: data samplers registered in the ``mmext``
scope."""
from .repeat_factor_sampler import RepeatFactorSampler, dataset_cat_ids

__all__ = ['RepeatFactorSampler', 'dataset_cat_ids']
