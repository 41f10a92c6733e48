"""The package's configuration tree (`config/` at the repository root), composed without a command line.

`compose(['solver=bandsplit_codec/tiny', 'model=bandsplit/three_band'])` returns the same config
`dora run solver=bandsplit_codec/tiny model=bandsplit/three_band` would train with, for notebooks, tests,
exports and benchmarks.
"""

from pathlib import Path
import typing as tp

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
import omegaconf

CONFIG_DIR = Path(__file__).resolve().parent.parent / 'config'


def compose(overrides: tp.Sequence[str] = (), config_name: str = 'config') -> omegaconf.DictConfig:
    """Compose the config `config_name` of `config/` with Hydra `overrides`; `device=auto` is kept as is."""
    if not CONFIG_DIR.is_dir():
        raise FileNotFoundError(f"The configuration folder {CONFIG_DIR} is missing: bandsplit_audiocraft runs "
                                f"from a checkout of its repository (or an editable install).")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base='1.3'):
            cfg = hydra_compose(config_name=config_name, overrides=list(overrides))
    finally:
        GlobalHydra.instance().clear()
    omegaconf.OmegaConf.set_struct(cfg, False)
    return cfg


def model_config(overrides: tp.Sequence[str] = (), solver: str = 'bandsplit_codec/tiny') -> omegaconf.DictConfig:
    """A composed config for building a model only: `solver` preset plus `overrides`, on CPU."""
    cfg = compose([f'solver={solver}', *overrides])
    cfg.device = 'cpu'
    return cfg
