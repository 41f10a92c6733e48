"""The cascade freezes what it says it freezes: a real solver, real steps, bit-level comparisons."""
import typing as tp

import pytest
import torch

from bandsplit_audiocraft.train import get_solver, main

OVERRIDES = [
    'solver=bandsplit_codec/tiny', 'cascade.branch_phase=1', 'cascade.joint_phase=1', 'optim.updates_per_epoch=2',
    'dataset.train.num_samples=8',
    'dataset.batch_size=4', 'dataset.segment_duration=0.25',
    # a small discriminator per branch, so that freezing discriminators is checked too
    'adversarial.adversaries=[msstftd]', 'losses.adv=1', 'losses.feat=1', 'msstftd.filters=2',
    'msstftd.n_ffts=[256,128]', 'msstftd.hop_lengths=[64,32]', 'msstftd.win_lengths=[256,128]',
]


def snapshot(module: torch.nn.Module) -> tp.Dict[str, torch.Tensor]:
    tensors = {**dict(module.named_parameters()), **dict(module.named_buffers())}
    return {k: v.detach().clone() for k, v in tensors.items()}


def same(a: tp.Dict[str, torch.Tensor], b: tp.Dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def changed_params(a: tp.Dict[str, torch.Tensor], b: tp.Dict[str, torch.Tensor]) -> tp.List[str]:
    return [k for k in a if not torch.equal(a[k], b[k])]


@pytest.fixture
def solver(tmp_path, corpus_dir, monkeypatch):
    monkeypatch.setattr(main.dora, 'dir', tmp_path)
    xp = main.get_xp(OVERRIDES + [f'corpus_dir={corpus_dir}'])
    with xp.enter():
        yield get_solver(xp.cfg)


def train_one_epoch(solver):
    solver.rng = torch.Generator()
    solver.rng.manual_seed(solver.epoch)
    solver.run_stage('train', solver.train)
    solver.commit(save_checkpoints=False)


def test_cascade_freezes_and_unfreezes_branches(solver):
    low, high = solver.model.branches
    d_low, d_high = solver.adv_losses['low'], solver.adv_losses['high']
    assert [p.name for p in solver.schedule.phases] == ['low', 'high', 'joint']

    before = [snapshot(m) for m in (low, high, d_low, d_high)]
    train_one_epoch(solver)  # phase 1: low branch only
    after = [snapshot(m) for m in (low, high, d_low, d_high)]
    assert changed_params(before[0], after[0]), "the low branch must learn in phase 1"
    assert any('_codebook.embed' in k for k in changed_params(before[0], after[0]))
    assert changed_params(before[2], after[2]), "the low discriminator must learn in phase 1"
    assert same(before[1], after[1]), "the high branch must receive no update in phase 1"
    assert same(before[3], after[3])

    before = after
    train_one_epoch(solver)  # phase 2: high branch on the residual, low branch frozen
    after = [snapshot(m) for m in (low, high, d_low, d_high)]
    assert same(before[0], after[0]), "low branch weights and codebooks must be bit-identical in phase 2"
    assert same(before[2], after[2]), "the low discriminator must be frozen in phase 2"
    assert changed_params(before[1], after[1]) and changed_params(before[3], after[3])
    assert any('_codebook.embed' in k for k in changed_params(before[1], after[1]))

    before = after
    train_one_epoch(solver)  # phase 3: joint
    after = [snapshot(m) for m in (low, high, d_low, d_high)]
    for b, a in zip(before, after):
        assert changed_params(b, a), "every branch and discriminator learns in the joint phase"
    assert solver.optimizer.param_groups[0]['lr'] == pytest.approx(float(solver.cfg.cascade.joint_lr))
    assert solver.phase_state.state_dict() == {'phase': 'joint', 'phase_index': 2, 'update': 6}


def test_joint_regime_trains_every_branch_from_the_first_update(tmp_path, corpus_dir, monkeypatch):
    monkeypatch.setattr(main.dora, 'dir', tmp_path)
    xp = main.get_xp(OVERRIDES + [f'corpus_dir={corpus_dir}', 'cascade.regime=joint'])
    with xp.enter():
        solver = get_solver(xp.cfg)
        assert [(p.name, p.trained) for p in solver.schedule.phases] == [('joint', (0, 1))]
        modules = [*solver.model.branches, solver.adv_losses['low'], solver.adv_losses['high']]
        before = [snapshot(m) for m in modules]
        train_one_epoch(solver)
        after = [snapshot(m) for m in modules]
        for b, a in zip(before, after):
            assert changed_params(b, a)
        assert solver.optimizer.param_groups[0]['lr'] == pytest.approx(float(solver.cfg.optim.lr))
