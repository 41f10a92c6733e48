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

from omegaconf import DictConfig, OmegaConf

from .bandsplit import BandSplitCompressionModel
from .branch import Branch, CodecBranch
from .dac_branch import DACBranch

ARCHITECTURES = ('seanet', 'dac')


def _as_dict(cfg: tp.Any) -> tp.Dict[str, tp.Any]:
    if cfg is None:
        return {}
    if isinstance(cfg, DictConfig):
        return tp.cast(tp.Dict[str, tp.Any], OmegaConf.to_container(cfg, resolve=True))
    return dict(cfg)


def _merge(base: tp.Dict[str, tp.Any], override: tp.Dict[str, tp.Any]) -> tp.Dict[str, tp.Any]:
    """Recursive dictionary merge, `override` winning."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _enabled(branch_cfg: tp.Any) -> bool:
    return branch_cfg is not None and bool(dict(branch_cfg).get('enabled', True))


def get_bandsplit_model(cfg: tp.Any) -> BandSplitCompressionModel:
    """Instantiate a `BandSplitCompressionModel` from a config (DictConfig or nested dict) as above."""
    cfg = _as_dict(cfg)
    if 'bandsplit' not in cfg:
        raise KeyError("The config has no `bandsplit` block describing the branches.")
    spec = cfg['bandsplit']
    branches_cfg = spec.get('branches') or {}
    if not any(_enabled(b) for b in branches_cfg.values()):
        raise ValueError("`bandsplit.branches` is empty: declare at least one branch with its sample_rate.")
    channels = int(spec.get('channels', cfg.get('channels', 1)))
    shared_seanet = _as_dict(cfg.get('seanet'))
    shared_rvq = _as_dict(cfg.get('rvq'))
    shared_dac = _as_dict(cfg.get('dac'))
    branches: tp.List[Branch] = []
    for name, branch_cfg in branches_cfg.items():
        if not _enabled(branch_cfg):  # switched off (`branches.low.enabled: false`) or removed (`null`)
            continue
        branch_cfg = dict(branch_cfg)
        branch_cfg.pop('enabled', None)
        if 'sample_rate' not in branch_cfg:
            raise ValueError(f"Branch {name!r} has no sample_rate.")
        architecture = str(branch_cfg.get('architecture', 'seanet'))
        if architecture == 'dac':
            dac_kwargs = _merge(shared_dac, _as_dict(branch_cfg.get('dac')))
            branches.append(DACBranch(int(branch_cfg['sample_rate']), **dac_kwargs, channels=channels,
                                      name=str(name)))
        elif architecture == 'seanet':
            seanet = _merge(shared_seanet, _as_dict(branch_cfg.get('seanet')))
            rvq = _merge(shared_rvq, _as_dict(branch_cfg.get('rvq')))
            branches.append(CodecBranch.build(int(branch_cfg['sample_rate']), seanet, rvq, channels=channels,
                                              name=str(name)))
        else:
            raise ValueError(f"Branch {name!r}: unknown architecture {architecture!r}, expected one of "
                             f"{', '.join(ARCHITECTURES)}.")
    branches.sort(key=lambda b: b.sample_rate)
    model = BandSplitCompressionModel(branches)
    if 'sample_rate' in cfg and cfg['sample_rate'] is not None and int(cfg['sample_rate']) != model.sample_rate:
        raise ValueError(f"Config sample_rate is {cfg['sample_rate']} Hz but the top branch works at "
                         f"{model.sample_rate} Hz: they must match.")
    return model


def branch_layout(cfg: tp.Any) -> tp.List[tp.Tuple[str, int]]:
    """`(name, sample_rate)` of every branch a config declares, lowest rate first (no model is built)."""
    spec = _as_dict(cfg).get('bandsplit') or {}
    layout = [(str(name), int(b['sample_rate'])) for name, b in (spec.get('branches') or {}).items()
              if _enabled(b)]
    return sorted(layout, key=lambda item: item[1])
