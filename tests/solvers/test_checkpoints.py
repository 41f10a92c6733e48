"""`checkpoint.keep_last` is honoured: a real (short) training keeps only the last epoch checkpoints."""
import json

import pytest

from bandsplit_audiocraft.train import get_solver, main
from bandsplit_audiocraft.utils.checkpoints import load_training_checkpoint

pytestmark = pytest.mark.slow

UPDATES = 2
EPOCHS = 5
SHORT_RUN = [
    'solver=bandsplit_codec/tiny', 'model=bandsplit/single_32k', f'cascade.joint_phase={EPOCHS}',
    f'optim.updates_per_epoch={UPDATES}', 'dataset.batch_size=4', 'dataset.segment_duration=0.25',
    f'dataset.train.num_samples={4 * UPDATES}', 'dataset.valid.num_samples=4', 'dataset.evaluate.num_samples=2',
    'dataset.evaluate.segment_duration=0.5', 'dataset.generate.num_samples=1', 'dataset.generate.segment_duration=0.5',
    'checkpoint.save_every=1',
]


def test_only_the_last_epoch_checkpoints_are_kept(tmp_path, corpus_dir, monkeypatch):
    monkeypatch.setattr(main.dora, 'dir', tmp_path)
    xp = main.get_xp([*SHORT_RUN, f'corpus_dir={corpus_dir}', 'checkpoint.keep_last=2'])
    with xp.enter():
        solver = get_solver(xp.cfg)
        assert solver.cfg.optim.epochs == EPOCHS
        solver.run()
    folder = xp.folder
    assert len(json.loads((folder / 'history.json').read_text())) == EPOCHS
    kept = sorted(p.name for p in folder.glob('checkpoint*.th*'))
    assert kept == ['checkpoint.th', f'checkpoint_{EPOCHS - 1}.th', f'checkpoint_{EPOCHS}.th']
    # The last checkpoint is the full state after the last epoch; the kept epoch checkpoints load too.
    state = load_training_checkpoint(folder / 'checkpoint.th')
    assert len(state['history']) == EPOCHS and state['phase_state']['update'] == EPOCHS * UPDATES
    assert len(load_training_checkpoint(folder / f'checkpoint_{EPOCHS - 1}.th')['history']) == EPOCHS - 1


def test_stages_left_out_at_the_last_epoch(tmp_path, corpus_dir, monkeypatch):
    """`evaluate.last_epoch=false` / `generate.last_epoch=false`: the stages run every `every` epochs only."""
    monkeypatch.setattr(main.dora, 'dir', tmp_path)
    xp = main.get_xp([*SHORT_RUN, f'corpus_dir={corpus_dir}', 'evaluate.every=2', 'generate.every=2',
                      'evaluate.last_epoch=false', 'generate.last_epoch=false'])
    with xp.enter():
        get_solver(xp.cfg).run()
    history = json.loads((xp.folder / 'history.json').read_text())
    assert [epoch for epoch, stages in enumerate(history, 1) if 'evaluate' in stages] == [2, 4]
    assert [epoch for epoch, stages in enumerate(history, 1) if 'generate' in stages] == [2, 4]
    assert sorted(p.name for p in (xp.folder / 'samples').iterdir()) == ['epoch_0002', 'epoch_0004']
