"""Build band-split models from audiocraft-style configs.

A config with `compression_model: bandsplit` holds shared `seanet` and `rvq` blocks (the same keys as
audiocraft's EnCodec configs) and a `bandsplit` block naming the branches, each with its sample rate and
its own overrides of `seanet` / `rvq`::

    compression_model: bandsplit
    bandsplit:
      channels: 1
      branches:
        low: {sample_rate: 16000, seanet: {ratios: [8, 5, 4, 2]}, rvq: {n_q: 4}}
        high: {sample_rate: 32000, seanet: {ratios: [8, 5, 4, 4]}, rvq: {n_q: 4}}
    seanet: {...}
    rvq: {...}

A branch may instead use the DAC architecture (`architecture: dac`, see `dac_branch.py`), configured by
its own `dac` block (DAC's constructor arguments, merged over the shared `dac` block); its `seanet` and `rvq`
keys are then ignored. The DAC baselines are single-branch models of this kind.

Branches are ordered by sample rate, whatever their order in the config. A branch with `enabled: false`
is left out (the single-branch baselines switch one off this way, which keeps every config of a grid the
same shape, as dora requires).
"""

import typing as tp

from audiocraft.utils.utils import dict_from_config
from omegaconf import OmegaConf

from .bandsplit import BandSplitCompressionModel
from .branch import Branch, CodecBranch
from .dac_branch import DACBranch

ARCHITECTURES: tp.Dict[str, tp.Type[Branch]] = {cls.architecture: cls for cls in (CodecBranch, DACBranch)}
"""Branch architectures by config name (`architecture:` of a branch); each is built by its `from_config`."""


def _merged(*configs: tp.Any) -> tp.Dict[str, tp.Any]:
    """DictConfigs or nested dicts (None for none) merged by OmegaConf, later ones winning, as a plain dict
    with interpolations resolved."""
    return dict_from_config(OmegaConf.merge(*(c or {} for c in configs)))


def _enabled(branch_cfg: tp.Any) -> bool:
    return branch_cfg is not None and bool(dict(branch_cfg).get('enabled', True))


def get_bandsplit_model(cfg: tp.Any) -> BandSplitCompressionModel:
    """Instantiate a `BandSplitCompressionModel` from a config (DictConfig or nested dict) as above."""
    cfg = _merged(cfg)
    if 'bandsplit' not in cfg:
        raise KeyError("The config has no `bandsplit` block describing the branches.")
    spec = cfg['bandsplit']
    branches_cfg = spec.get('branches') or {}
    if not any(_enabled(b) for b in branches_cfg.values()):
        raise ValueError("`bandsplit.branches` is empty: declare at least one branch with its sample_rate.")
    channels = int(spec.get('channels', cfg.get('channels', 1)))
    branches: tp.List[Branch] = []
    for name, branch_cfg in branches_cfg.items():
        if not _enabled(branch_cfg):  # switched off (`branches.low.enabled: false`) or removed (`null`)
            continue
        branch_cfg = dict(branch_cfg)
        branch_cfg.pop('enabled', None)
        if 'sample_rate' not in branch_cfg:
            raise ValueError(f"Branch {name!r} has no sample_rate.")
        architecture = str(branch_cfg.get('architecture', 'seanet'))
        if architecture not in ARCHITECTURES:
            raise ValueError(f"Branch {name!r}: unknown architecture {architecture!r}, expected one of "
                             f"{', '.join(ARCHITECTURES)}.")
        kind = ARCHITECTURES[architecture]
        blocks = {block: _merged(cfg.get(block), branch_cfg.get(block)) for block in kind.config_blocks}
        branches.append(kind.from_config(int(branch_cfg['sample_rate']), blocks, channels=channels, name=str(name)))
    branches.sort(key=lambda b: b.sample_rate)
    model = BandSplitCompressionModel(branches)
    if 'sample_rate' in cfg and cfg['sample_rate'] is not None and int(cfg['sample_rate']) != model.sample_rate:
        raise ValueError(f"Config sample_rate is {cfg['sample_rate']} Hz but the top branch works at "
                         f"{model.sample_rate} Hz: they must match.")
    return model


def branch_layout(cfg: tp.Any) -> tp.List[tp.Tuple[str, int]]:
    """`(name, sample_rate)` of every branch a config declares, lowest rate first (no model is built)."""
    spec = _merged(cfg).get('bandsplit') or {}
    layout = [(str(name), int(b['sample_rate'])) for name, b in (spec.get('branches') or {}).items()
              if _enabled(b)]
    return sorted(layout, key=lambda item: item[1])
