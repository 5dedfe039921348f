"""OpenMMLab metadata: model-index.yml and one metafile.yml per paper.

``mim`` and the OpenMMLab model zoo read these files; every config, README
and code path they name must exist, every model belongs to a collection,
every result is a number on a named task and data set, and a number that
mmext did not measure says where it comes from. A number mmext measured on
the Shapes suite names the training seeds behind it (``Seeds``) and the
lowest and highest value over them per logged metric (``Range``), which
``tools/misc/print_metrics.py --config`` prints beside a new run's result.
"""
import glob
import numbers
import os.path as osp
import re

import pytest
import yaml

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# configs/ folders without a metafile: the shared bases. (configs/shapes,
# the data suite's smoke configs, has one like every paper.)
NOT_PAPERS = ('_base_', )
# How a run logs a metric: 'accuracy/top1', 'coco/bbox_mAP_50', 'mIoU'.
LOG_KEY = re.compile(r'^[\w./-]+$')


def load(path):
    with open(osp.join(ROOT, path), encoding='utf-8') as f:
        return yaml.safe_load(f)


def metafiles():
    return load('model-index.yml')['Import']


def results_of(model):
    """A model's Results as a list (mmseg writes one entry as a dict)."""
    results = model.get('Results') or []
    return [results] if isinstance(results, dict) else results


def is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def seeds_and_range_problems(result: dict, where: str) -> list:
    """What is wrong in a Shapes result's ``Seeds`` and ``Range``.

    ``Seeds`` is the non-empty list of training seeds behind the figure;
    ``Range`` maps each metric, keyed as the run logs it, to ``[low, high]``
    over those seeds (low = high for a single run measured once). An empty
    ``Range`` is allowed for figures that no run logs (latency ratios).

    Args:
        result (dict): One Results entry.
        where (str): Its model, for the messages.

    Returns:
        list[str]: One message per problem.
    """
    problems = []
    seeds = result.get('Seeds')
    if not (isinstance(seeds, list) and seeds and all(
            isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        problems.append(f'{where}: a Shapes result whose Seeds {seeds!r} is '
                        'not a non-empty list of ints')
    ranges = result.get('Range')
    if not isinstance(ranges, dict):
        problems.append(f'{where}: a Shapes result without a Range '
                        '(log key: [low, high])')
        return problems
    for key, bounds in ranges.items():
        if not LOG_KEY.match(str(key)):
            problems.append(f'{where}: Range key {key!r} is not a logged '
                            "metric key such as 'accuracy/top1'")
        pair = isinstance(bounds, list) and len(bounds) == 2 and all(
            is_number(b) for b in bounds)
        if not (pair and bounds[0] <= bounds[1]):
            problems.append(f'{where}: Range {key!r} = {bounds!r} is not '
                            '[low, high] numbers with low <= high')
    return problems


def test_model_index_imports_one_metafile_per_paper():
    imports = metafiles()
    assert len(imports) == len(set(imports))
    for path in imports:
        assert osp.isfile(osp.join(ROOT, path)), path
    papers = sorted(
        osp.basename(osp.dirname(p))
        for p in glob.glob(osp.join(ROOT, 'configs', '*', '*.py'))
        if osp.basename(osp.dirname(p)) not in NOT_PAPERS)
    assert sorted(f'configs/{p}/metafile.yml' for p in set(papers)) == \
        sorted(imports)


def test_packaging_ships_the_model_index():
    with open(osp.join(ROOT, 'setup.py'), encoding='utf-8') as f:
        assert "'model-index.yml'" in f.read()
    with open(osp.join(ROOT, 'MANIFEST.in'), encoding='utf-8') as f:
        manifest = f.read().splitlines()
    assert 'include mmext/.mim/model-index.yml' in manifest
    assert any(
        line.startswith('recursive-include mmext/.mim/configs')
        and '*.yml' in line for line in manifest)


def metafile_problems(meta: dict, folder: str, root: str = ROOT) -> list:
    """What is wrong in one paper's metafile.

    Args:
        meta (dict): The loaded ``metafile.yml``.
        folder (str): Its folder, ``configs/<paper>``.
        root (str): The repository root.

    Returns:
        list[str]: One message per problem.
    """
    problems = []

    def check(ok, message):
        if not ok:
            problems.append(message)

    collections = {c.get('Name'): c for c in meta.get('Collections') or []}
    check(collections, 'no Collections')
    for name, collection in collections.items():
        where = f'collection {name}'
        paper = collection.get('Paper') or {}
        check(
            str(paper.get('URL', '')).startswith('https://arxiv.org/abs/'),
            f'{where}: Paper URL is not an arXiv page')
        check(paper.get('Title'), f'{where}: no Paper Title')
        check(
            collection.get('README') == f'{folder}/README.md'
            and osp.isfile(osp.join(root, folder, 'README.md')),
            f'{where}: README must be {folder}/README.md')
        code = collection.get('Code') or {}
        check(osp.isfile(osp.join(root, str(code.get('URL')))),
              f"{where}: Code URL {code.get('URL')} is not a file of mmext")
        check(code.get('Version'), f'{where}: no Code Version')
        check((collection.get('Metadata') or {}).get('Architecture'),
              f'{where}: no Metadata Architecture')

    names = set()
    for model in meta.get('Models') or []:
        name = model.get('Name')
        where = f'model {name}'
        check(name not in names, f'{where}: listed twice')
        names.add(name)
        check(
            model.get('In Collection') in collections,
            f"{where}: In Collection {model.get('In Collection')!r} is "
            f'none of {sorted(collections)}')
        check(
            model.get('Config') == f'{folder}/{name}.py'
            and osp.isfile(osp.join(root, folder, f'{name}.py')),
            f'{where}: Config must be the existing {folder}/{name}.py')
        metadata = model.get('Metadata')
        check(isinstance(metadata, dict), f'{where}: no Metadata')
        metadata = metadata if isinstance(metadata, dict) else {}
        for result in results_of(model):
            check(
                result.get('Task') and result.get('Dataset'),
                f'{where}: a Results entry without Task or Dataset')
            metrics = result.get('Metrics') or {}
            check(metrics, f'{where}: a Results entry without Metrics')
            for key, value in metrics.items():
                check(is_number(value),
                      f'{where}: metric {key!r} = {value!r} is not a number')
            if str(result.get('Dataset')).startswith('Shapes'):
                # Measured by mmext: which seeds, and their spread.
                problems += seeds_and_range_problems(result, where)
            else:
                # Real-data numbers are the paper's or its authors'.
                check(
                    'not reproduced' in str(metadata.get('Results Source',
                                                         '')),
                    f"{where}: {result.get('Dataset')} result without a "
                    "'Results Source' saying mmext did not reproduce it")
        check(
            str(model.get('Weights', 'https://')).startswith('https://'),
            f'{where}: Weights is not a URL')

    configs = {
        f'{folder}/{osp.basename(p)}'
        for p in glob.glob(osp.join(root, folder, '*.py'))
    }
    listed = {m.get('Config') for m in meta.get('Models') or []}
    check(configs <= listed,
          f'configs not in the metafile: {sorted(configs - listed)}')
    return problems


def test_metafile_checker_flags_planted_problems(tmp_path):
    folder = 'configs/p'
    (tmp_path / folder).mkdir(parents=True)
    for name in ('README.md', 'a.py', 'b.py', 'c.py', 'e.py', 'f.py', 'g.py'):
        (tmp_path / folder / name).write_text('')
    (tmp_path / 'code.py').write_text('')
    collection = dict(Name='P',
                      Metadata=dict(Architecture=['ResNet']),
                      Paper=dict(URL='https://arxiv.org/abs/0000.00000',
                                 Title='P'),
                      README=f'{folder}/README.md',
                      Code=dict(URL='code.py', Version='v1'))
    good = dict(Name='a',
                Config=f'{folder}/a.py',
                Metadata={},
                **{'In Collection': 'P'},
                Results=[
                    dict(Task='T',
                         Dataset='Shapes',
                         Metrics={'mIoU': 62.76},
                         Seeds=[0, 1],
                         Range={'mIoU': [61.2, 62.76]})
                ])
    meta = dict(Collections=[collection],
                Models=[
                    good,
                    dict(good,
                         Name='b',
                         Config=f'{folder}/b.py',
                         **{'In Collection': 'Q'}),
                    dict(good,
                         Name='c',
                         Config=f'{folder}/c.py',
                         Results=[
                             dict(Task='T',
                                  Dataset='ADE20K',
                                  Metrics={'mIoU': '37.4'})
                         ]),
                    dict(good, Name='d', Config=f'{folder}/d.py'),
                    dict(good,
                         Name='e',
                         Config=f'{folder}/e.py',
                         Results=[
                             dict(Task='T',
                                  Dataset='Shapes',
                                  Metrics={'mIoU': 62.76},
                                  Range={'mIoU': [62.76, 62.76]})
                         ]),
                    dict(good,
                         Name='f',
                         Config=f'{folder}/f.py',
                         Results=[
                             dict(Task='T',
                                  Dataset='Shapes (long-tailed)',
                                  Metrics={'mIoU': 62.76},
                                  Seeds=[0, True],
                                  Range={
                                      'mIoU': [62.76, 61.2],
                                      'aAcc': [92.4],
                                      'Top 1 Accuracy': [1, 2]
                                  })
                         ]),
                    dict(good,
                         Name='g',
                         Config=f'{folder}/g.py',
                         Results=[
                             dict(Task='T',
                                  Dataset='Shapes',
                                  Metrics={'mIoU': 62.76},
                                  Seeds=[0])
                         ]),
                ])
    assert metafile_problems(meta, folder, str(tmp_path)) == [
        "model b: In Collection 'Q' is none of ['P']",
        "model c: metric 'mIoU' = '37.4' is not a number",
        "model c: ADE20K result without a 'Results Source' saying mmext "
        'did not reproduce it',
        'model d: Config must be the existing configs/p/d.py',
        'model e: a Shapes result whose Seeds None is not a non-empty list '
        'of ints',
        'model f: a Shapes result whose Seeds [0, True] is not a non-empty '
        'list of ints',
        "model f: Range 'mIoU' = [62.76, 61.2] is not [low, high] numbers "
        'with low <= high',
        "model f: Range 'aAcc' = [92.4] is not [low, high] numbers with "
        'low <= high',
        "model f: Range key 'Top 1 Accuracy' is not a logged metric key "
        "such as 'accuracy/top1'",
        'model g: a Shapes result without a Range (log key: [low, high])',
    ]
    meta['Models'] = meta['Models'][:1]
    assert metafile_problems(meta, folder, str(tmp_path)) == [
        'configs not in the metafile: '
        "['configs/p/b.py', 'configs/p/c.py', 'configs/p/e.py', "
        "'configs/p/f.py', 'configs/p/g.py']"
    ]


@pytest.mark.parametrize('metafile', metafiles())
def test_metafile_is_complete_and_consistent(metafile):
    problems = metafile_problems(load(metafile), osp.dirname(metafile))
    assert not problems, f'{metafile}:\n' + '\n'.join(problems)


def test_every_measured_shapes_model_has_results():
    # The Shapes configs are the ones mmext trains: each has a figure.
    for metafile in metafiles():
        for model in load(metafile)['Models']:
            if model['Metadata'].get('Training Data') == 'Shapes':
                assert results_of(model), f"{model['Name']}: no Results"
