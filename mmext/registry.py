"""mmext's registry nodes.

Every node is a child of the matching MMEngine root registry with its own
scope, ``'mmext'``, and explicit ``locations`` (mmext is not in MMEngine's
``MODULE2PACKAGE``, so ``locations`` is the only automatic import path).

Configs of any host scope reach mmext components with a prefixed type,
``type='mmext.X'``: MMEngine imports this module, finds the ``mmext`` child of
the root and imports the node's ``locations`` on the first lookup. Nothing is
ever registered into a root registry, so a host class of the same name is
never shadowed.

This module imports only mmengine.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import \
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

SCOPE = 'mmext'


def _child(name: str, parent: Registry, location: str) -> Registry:
    return Registry(name, parent=parent, scope=SCOPE, locations=[location])


# Runners, loops and hooks.
RUNNERS = _child('runner', MMENGINE_RUNNERS, 'mmext.engine.runner')
LOOPS = _child('loop', MMENGINE_LOOPS, 'mmext.engine.runner')
HOOKS = _child('hook', MMENGINE_HOOKS, 'mmext.engine.hooks')
LOG_PROCESSORS = _child('log_processor', MMENGINE_LOG_PROCESSORS,
                        'mmext.engine.runner')

# Data.
DATASETS = _child('dataset', MMENGINE_DATASETS, 'mmext.datasets')
DATA_SAMPLERS = _child('data sampler', MMENGINE_DATA_SAMPLERS,
                       'mmext.datasets.samplers')
TRANSFORMS = _child('transform', MMENGINE_TRANSFORMS,
                    'mmext.datasets.transforms')

# Models.
MODELS = _child('model', MMENGINE_MODELS, 'mmext.models')
MODEL_WRAPPERS = _child('model_wrapper', MMENGINE_MODEL_WRAPPERS,
                        'mmext.models')
WEIGHT_INITIALIZERS = _child('weight initializer',
                             MMENGINE_WEIGHT_INITIALIZERS, 'mmext.models')
TASK_UTILS = _child('task util', MMENGINE_TASK_UTILS, 'mmext.models')

# Optimisation.
OPTIMIZERS = _child('optimizer', MMENGINE_OPTIMIZERS,
                    'mmext.engine.optimizers')
OPTIM_WRAPPERS = _child('optim_wrapper', MMENGINE_OPTIM_WRAPPERS,
                        'mmext.engine.optimizers')
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                    'mmext.engine.optimizers')
PARAM_SCHEDULERS = _child('parameter scheduler', MMENGINE_PARAM_SCHEDULERS,
                          'mmext.engine.optimizers')

# Evaluation and visualisation.
METRICS = _child('metric', MMENGINE_METRICS, 'mmext.evaluation')
EVALUATOR = _child('evaluator', MMENGINE_EVALUATOR, 'mmext.evaluation')
VISUALIZERS = _child('visualizer', MMENGINE_VISUALIZERS, 'mmext.visualization')
VISBACKENDS = _child('vis_backend', MMENGINE_VISBACKENDS,
                     'mmext.visualization')

# Registered functions (factories, collate functions).
FUNCTIONS = _child('function', MMENGINE_FUNCTIONS, 'mmext.datasets')
