"""mmext's registry scope: prefixed types resolve from any host scope.

The cross-scope checks run in fresh interpreters, so that nothing but the
config's ``type='mmext.X'`` can have imported mmext's components.
"""
import importlib
import inspect
import json
import subprocess
import sys
import textwrap

import mmengine.registry as root
import pytest

import mmext.registry as ext

NODES = {name: node for name, node in vars(ext).items()
         if isinstance(node, root.Registry) and node.scope == 'mmext'}
ROOT_NODES = {name: node for name, node in vars(root).items()
              if isinstance(node, root.Registry) and node.parent is None}


def _import_all_locations() -> None:
    for node in NODES.values():
        for location in node._locations:
            importlib.import_module(location)


def test_every_node_is_a_scoped_child_of_its_root():
    assert set(NODES) <= set(ROOT_NODES), set(NODES) - set(ROOT_NODES)
    for name, node in NODES.items():
        assert node.scope == 'mmext', name
        assert node.parent is ROOT_NODES[name], name
        assert ROOT_NODES[name]._children['mmext'] is node, name
        assert node._locations, f'{name} has no locations'


def test_import_mmext_is_light():
    code = ('import sys, mmext\n'
            'heavy = [m for m in ("mmdet", "mmseg", "mmcv.ops", '
            '"mmext.models", "mmext.datasets") if m in sys.modules]\n'
            'print(",".join(heavy))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == '', f'import mmext pulled in {out}'


def test_no_mmext_class_in_a_root_registry():
    _import_all_locations()
    for name, node in ROOT_NODES.items():
        for key, obj in node.module_dict.items():
            module = getattr(obj, '__module__', '') or ''
            assert not module.startswith('mmext'), (
                f'{module}.{key} is registered in the root {name} registry')


def _registered_names() -> dict:
    """Per area, the components its ``locations`` provide.

    Components registered from elsewhere (``mmext.testing.toy``, imported by
    other tests) are left out: a fresh process cannot reach them by prefix.
    """
    _import_all_locations()
    names = {}
    for name, node in NODES.items():
        keys = sorted(
            key for key, obj in node.module_dict.items()
            if obj.__module__.startswith(tuple(node._locations)))
        if keys:
            names[name] = keys
    return names


def test_every_area_has_a_component():
    names = _registered_names()
    for area in ('MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS'):
        assert names.get(area), f'no mmext component in {area}'


_RESOLVE_SCRIPT = '''
import json, sys
import mmengine.registry as root
from mmengine.registry import init_default_scope
scope, names = sys.argv[1], json.loads(sys.argv[2])
host = __import__(scope + '.registry', fromlist=['_'])
init_default_scope(scope)
assert 'mmext' not in sys.modules, 'mmext imported too early'
found = {}
for area, keys in names.items():
    node = getattr(host, area, None) or getattr(root, area)
    for key in keys:
        obj = node.get('mmext.' + key)
        found[area + '.' + key] = None if obj is None else obj.__module__
print(json.dumps(found))
'''


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_prefixed_types_resolve_from_host_scopes(scope):
    names = _registered_names()
    out = subprocess.run(
        [sys.executable, '-c', _RESOLVE_SCRIPT, scope, json.dumps(names)],
        capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    for key, module in found.items():
        assert module is not None and module.startswith('mmext.'), key
    assert len(found) == sum(len(v) for v in names.values())


_BUILD_SCRIPT = textwrap.dedent('''
    import sys
    from mmengine.registry import init_default_scope
    scope = sys.argv[1]
    reg = __import__(scope + '.registry', fromlist=['_'])
    init_default_scope(scope)
    model = reg.MODELS.build(dict(
        type='mmext.MiT', embed_dims=(8, 8, 8, 8), depths=(1, 1, 1, 1),
        num_heads=(1, 1, 1, 1)))
    metric = reg.METRICS.build(dict(type='mmext.LabelRecoveryAccuracy'))
    pack = reg.TRANSFORMS.build(dict(type='mmext.LoadPanopticAnnotations'))
    print(type(model).__module__, type(metric).__module__,
          type(pack).__module__)
''')


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_build_from_host_scope_without_importing_mmext(scope):
    out = subprocess.run([sys.executable, '-c', _BUILD_SCRIPT, scope],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    modules = out.stdout.split()
    assert all(m.startswith('mmext.') for m in modules), modules


def test_unprefixed_mmext_name_is_not_found_in_host_scope():
    # Documents the rule configs follow: without the prefix, the host's
    # registry (and its parents) are searched, never mmext's.
    from mmengine.registry import DefaultScope
    import mmdet.registry
    with DefaultScope.overwrite_default_scope('mmdet'):
        assert mmdet.registry.MODELS.get('ImageClassifier') is None


def test_registry_source_imports_only_mmengine():
    source = inspect.getsource(ext)
    imports = [line.split()[1] for line in source.splitlines()
               if line.startswith(('import ', 'from '))]
    assert all(mod.startswith('mmengine') for mod in imports), imports
