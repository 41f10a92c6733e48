"""Dora / Hydra entry point: `dora run solver=bandsplit_codec ...` from the repository root.

Dora finds this module because the package folder holds both `__init__.py` and `train.py`. It plays the
role of `audiocraft/train.py` (which cannot be imported from an installed audiocraft: its config folder is
not installed) with the package's own `config/` tree, and resolves what audiocraft leaves to the
environment:

- experiments go to `$AUDIOCRAFT_DORA_DIR` if set, else to `outputs/` at the repository root;
- cluster settings come from `config/teams/default.yaml` unless `$AUDIOCRAFT_CONFIG` says otherwise;
- `device=auto` becomes `cuda` when a GPU is visible, else `cpu`;
- distributed runs (`dora run -d`, multi-task SLURM jobs) use NCCL on GPU and gloo on CPU (flashy's
  `distrib.init` defaults to NCCL whatever the device); batch sizes are per rank (`prepare_config`);
- relative data paths are taken relative to the directory the command was launched from, and the embedded
  corpus is written on first use, for every solver (`prepare_data`).
"""

import logging
import multiprocessing
import os
from pathlib import Path
import random

CONFIG_DIR = Path(__file__).resolve().parent.parent / 'config'
os.environ.setdefault('AUDIOCRAFT_CONFIG', str(CONFIG_DIR / 'teams' / 'default.yaml'))

from dora import git_save, hydra_main  # noqa: E402
import flashy  # noqa: E402
import omegaconf  # noqa: E402

from . import register  # noqa: E402
from .utils.devices import resolve_device  # noqa: E402

logger = logging.getLogger(__name__)
#: What the fork server of the data loader workers imports once (`mp_start_method=forkserver`, the default): the
#: module of the data sets the workers unpickle, and with it audiocraft's data stack.
FORKSERVER_PRELOAD = ['audiocraft.data.audio_dataset']


def distributed_backend(device: str) -> str:
    """torch.distributed backend for a run on `device`, as `resolve_device` returns it."""
    return 'nccl' if device.startswith('cuda') else 'gloo'


def prepare_config(cfg: omegaconf.DictConfig) -> omegaconf.DictConfig:
    """Make a composed config runnable here: device, absolute data paths, per-rank batch sizes."""
    omegaconf.OmegaConf.set_struct(cfg, False)
    cfg.device = resolve_device(cfg.device)
    if 'corpus_dir' in cfg:
        cfg.corpus_dir = str(git_save.to_absolute_path(cfg.corpus_dir))
    for key, value in cfg.datasource.items():
        if isinstance(value, str):
            cfg.datasource[key] = str(git_save.to_absolute_path(value))
    world = flashy.distrib.world_size()
    for node in [cfg.dataset] + [cfg.dataset[s] for s in ['train', 'valid', 'evaluate', 'generate']
                                 if s in cfg.dataset and 'batch_size' in cfg.dataset[s]]:
        if node.batch_size % world != 0:
            raise ValueError(f"Batch size {node.batch_size} does not split over {world} processes.")
        node.batch_size //= world
    return cfg


def prepare_data(cfg: omegaconf.DictConfig) -> None:
    """Write the embedded corpus if the config trains on it (rank 0 writes, the others wait), and check that
    every data split exists, whichever solver reads them."""
    if cfg.datasource.get('embedded', False):
        from .data.corpus import generate_corpus
        if flashy.distrib.is_rank_zero():
            generate_corpus(Path(cfg.corpus_dir))
        flashy.distrib.barrier()
    for split, path in cfg.datasource.items():
        if isinstance(path, str) and not Path(path).exists():
            raise FileNotFoundError(f"Data split {split!r}: {path} does not exist. Point the dset config at a "
                                    f"folder of manifests (e.g. dset=folder dataset_root=/path/to/manifests).")


def get_solver(cfg: omegaconf.DictConfig):
    """Build the solver named by `cfg.solver` (audiocraft's or this package's) from a composed config."""
    from audiocraft import solvers
    register()
    cfg = prepare_config(cfg)
    prepare_data(cfg)
    return solvers.get_solver(cfg)


def init_seed_and_system(cfg: omegaconf.DictConfig) -> None:
    import numpy as np
    import torch
    try:
        multiprocessing.set_start_method(cfg.mp_start_method)
    except RuntimeError:  # already set in this process
        pass
    # Data loader workers are new at every stage. Under forkserver they fork from one server process: have it
    # import audiocraft's data stack once, instead of each worker importing it again.
    multiprocessing.set_forkserver_preload(FORKSERVER_PRELOAD)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.num_threads)
    os.environ['MKL_NUM_THREADS'] = str(cfg.num_threads)
    os.environ['OMP_NUM_THREADS'] = str(cfg.num_threads)


@hydra_main(config_path='../config', config_name='config', version_base='1.3')
def main(cfg):
    cfg.device = resolve_device(cfg.device)  # checked here, before the processes agree on a backend
    init_seed_and_system(cfg)
    log_name = '%s.log.{rank}' % cfg.execute_only if cfg.execute_only else 'solver.log.{rank}'
    flashy.setup_logging(level=str(cfg.logging.level).upper(), log_name=log_name)
    flashy.distrib.init(backend=distributed_backend(cfg.device))
    solver = get_solver(cfg)
    if cfg.show:
        solver.show()
        return
    if cfg.execute_only:
        if not (cfg.execute_inplace or cfg.continue_from is not None):
            raise ValueError("execute_only needs continue_from=<sig or path> or execute_inplace=true.")
        solver.restore(replay_metrics=False)
        solver.run_one_stage(cfg.execute_only)
        return
    return solver.run()


def _dora_dir() -> Path:
    env = os.environ.get('AUDIOCRAFT_DORA_DIR')
    if env:
        return Path(env).resolve()
    original = os.environ.get('_DORA_ORIGINAL_DIR')  # set by dora when running from a git_save clone
    return (Path(original) if original else Path.cwd()).resolve() / str(main.dora.dir)


main.dora.dir = _dora_dir()
main.dora.grid_package = 'grids'  # top-level grids/ folder: `dora grid bandsplit.sweep`
if main.dora.shared is not None and not os.access(main.dora.shared, os.R_OK):
    main.dora.shared = None

if __name__ == '__main__':
    main()
