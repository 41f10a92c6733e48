"""What a training step optimises, pinned for both recipes: targets, weights, gradients, adversaries, lr.

Each test builds a real solver on the embedded corpus with one update per epoch and one epoch per phase, so
that epoch 1 is the `low` phase, epoch 2 the `high` phase and epoch 3 the `joint` phase, and watches one
real step: the losses' inputs, the gradients handed to the optimizer, the adversaries' calls and the
learning rates.
"""
import contextlib
import typing as tp

import pytest
import torch

from bandsplit_audiocraft import bands
from bandsplit_audiocraft.solvers.bandsplit_codec import branch_config
from bandsplit_audiocraft.solvers.losses import get_loss
from bandsplit_audiocraft.train import get_solver, main

ONE_UPDATE_PER_PHASE = ['cascade.branch_phase=1', 'cascade.joint_phase=1', 'optim.updates_per_epoch=1',
                        'dataset.batch_size=2', 'dataset.train.num_samples=2', 'dataset.num_workers=0',
                        'device=cpu', 'num_threads=2', 'mp_start_method=fork', 'optim.max_norm=0']
RECIPES = {
    # audiocraft's EnCodec recipe with a plain weighted sum, so that the expected gradient has a closed form
    'encodec': ['solver=bandsplit_codec/tiny', 'dataset.segment_duration=0.25', 'balancer.balance_grads=false',
                'losses.l2=1', 'losses.msspec=0.5', 'quantizer_losses.commitment=0.5'],
    'dac': ['solver=bandsplit_codec/dac_recipe', 'dac.encoder_dim=4', 'dac.decoder_dim=32',
            'dataset.segment_duration=0.1', 'optim.lr=1e-3', 'cascade.joint_lr=5e-4'],
    # DAC's recipe on SEANet/RVQ branches (quantizer dropout on, commitment only)
    'dac_seanet': ['solver=bandsplit_codec/dac_recipe_tiny', 'model=bandsplit/default', 'dataset.segment_duration=0.1',
                   'optim.lr=1e-3', 'cascade.joint_lr=5e-4'],
}
ADVERSARIES = {  # small but real adversaries of each recipe
    'encodec': ['adversarial.adversaries=[msstftd]', 'losses.adv=1', 'losses.feat=1', 'msstftd.filters=2',
                'msstftd.n_ffts=[256,128]', 'msstftd.hop_lengths=[64,32]', 'msstftd.win_lengths=[256,128]'],
    'dac': ['dac_discriminator.periods=[2]', 'dac_discriminator.fft_sizes=[256]'],
    'dac_seanet': ['dac_discriminator.periods=[2]', 'dac_discriminator.fft_sizes=[256]'],
}


@pytest.fixture
def make_solver(tmp_path, monkeypatch, corpus_dir):
    """Build a solver inside its dora XP, which stays entered until the test ends."""
    monkeypatch.setattr(main.dora, 'dir', tmp_path)
    with contextlib.ExitStack() as stack:
        def make(*overrides: str):
            xp = main.get_xp([*ONE_UPDATE_PER_PHASE, f'corpus_dir={corpus_dir}', *overrides])
            stack.enter_context(xp.enter())
            return get_solver(xp.cfg)
        yield make


def train_one_epoch(solver) -> None:
    solver.rng = torch.Generator()
    solver.rng.manual_seed(solver.epoch)
    solver.run_stage('train', solver.train)
    solver.commit(save_checkpoints=False)


def spy(module: torch.nn.Module, method: str, calls: tp.List[tp.Tuple[str, tuple]], tag: str) -> None:
    original = getattr(module, method)

    def recorded(*args, **kwargs):
        calls.append((tag, tuple(a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args)))
        return original(*args, **kwargs)
    setattr(module, method, recorded)


def watch_model(solver) -> tp.List[tp.Tuple[torch.Tensor, tp.Any]]:
    """Record the input and the result of every forward of the model."""
    seen: tp.List[tp.Tuple[torch.Tensor, tp.Any]] = []
    forward = solver.model.forward

    def recorded(x, *args, **kwargs):
        result = forward(x, *args, **kwargs)
        seen.append((x.detach().clone(), result))
        return result
    solver.model.forward = recorded
    return seen


@pytest.mark.parametrize('recipe', list(RECIPES))
def test_each_phase_scores_the_right_reconstruction_against_the_right_reference(recipe, make_solver):
    solver = make_solver(*RECIPES[recipe], 'adversarial.adversaries=[]')
    calls: tp.List[tp.Tuple[str, tuple]] = []
    for name in solver.branch_names:
        for criterion in solver.aux_losses[name].values():
            spy(criterion, 'forward', calls, name)
    seen = watch_model(solver)
    expected_phases = {1: ['low'], 2: ['high'], 3: ['low', 'high']}
    for epoch, scored in expected_phases.items():
        calls.clear()
        seen.clear()
        train_one_epoch(solver)
        (x, result), = seen
        assert sorted({tag for tag, _ in calls}) == sorted(scored), f"epoch {epoch}"
        # the model pads its input to whole frames before resampling it to the low rate
        padded = bands.pad_to(x, solver.model.num_frames(x.shape[-1]) * solver.model.hop_length)
        low16 = bands.resample(padded, 32000, 16000)[..., :x.shape[-1] // 2]
        for tag, (estimate, reference) in calls:
            if tag == 'low':
                assert torch.equal(estimate, result.branch_recons[0].detach())
                assert torch.equal(estimate, result.branch_outputs[0].detach())
                torch.testing.assert_close(reference, low16)
            else:
                # the summed 32 kHz output U(d16) + d32 against the 32 kHz input
                assert torch.equal(estimate, result.x.detach())
                summed = bands.resample(result.branch_outputs[0].detach(), 16000, 32000, length=x.shape[-1]) \
                    + result.branch_outputs[1].detach()
                # (the model sums before cropping the padding: the last samples' resampling context differs)
                torch.testing.assert_close(estimate[..., :-64], summed[..., :-64])
                assert torch.equal(reference, x)


def expected_gradients(solver, result, phase) -> tp.Dict[str, torch.Tensor]:
    """Gradient of `mean over trained branches of sum_l w_l L_l(recon_k, target_k) + sum_k sum_t q_t Q_{k,t}`."""
    cfg = solver.cfg
    weights = {name: float(w) for name, w in cfg.losses.items() if name not in ('adv', 'feat') and w > 0}
    quantizer = {name: float(w) for name, w in cfg.quantizer_losses.items()}
    total = torch.zeros(())
    for k in phase.trained:
        rate_cfg = branch_config(cfg, solver.branch_rates[k])
        recon, target = result.branch_recons[k], result.branch_targets[k]
        total = total + sum(w * get_loss(name, rate_cfg)(recon, target) for name, w in weights.items()) \
            / len(phase.trained)
        total = total + sum(quantizer[name] * value for name, value in result.branch_quantizer_losses[k].items())
    params = {n: p for n, p in solver.model.named_parameters() if p.requires_grad}
    grads = torch.autograd.grad(total, list(params.values()), retain_graph=True, allow_unused=True)
    return {n: torch.zeros_like(p) if g is None else g for (n, p), g in zip(params.items(), grads)}


@pytest.mark.parametrize('recipe', list(RECIPES))
def test_gradients_are_the_averaged_branch_losses_plus_the_summed_quantizer_losses(recipe, make_solver):
    solver = make_solver(*RECIPES[recipe], 'adversarial.adversaries=[]')
    expected: tp.Dict[str, torch.Tensor] = {}
    forward = solver.model.forward

    def recorded(x, *args, **kwargs):
        result = forward(x, *args, **kwargs)
        expected.update(expected_gradients(solver, result, solver.current_phase))
        if solver.current_phase.name == 'joint':
            # the high branch's loss alone reaches the low branch through U(d16)
            high_only = torch.autograd.grad(torch.nn.functional.l1_loss(result.x, x),
                                            list(solver.model.branches[0].parameters()), retain_graph=True,
                                            allow_unused=True)  # quantizer dropout may leave codebooks unused
            assert any(g is not None and g.abs().sum() > 0 for g in high_only)
        return result
    solver.model.forward = recorded

    got: tp.Dict[str, torch.Tensor] = {}
    step = solver.optimizer.step

    def record_step(*args, **kwargs):
        got.update({n: p.grad.clone() for n, p in solver.model.named_parameters() if p.grad is not None})
        return step(*args, **kwargs)
    solver.optimizer.step = record_step

    for epoch in (1, 2, 3):
        expected.clear()
        got.clear()
        train_one_epoch(solver)
        trained = tuple(f'branches.{k}.' for k in solver.schedule.phases[epoch - 1].trained)
        assert expected and all(name.startswith(trained) for name in got) and set(got) <= set(expected)
        for name, grad in expected.items():
            # float summation order differs between the two computations: tolerance relative to the tensor
            scale = float(grad.abs().max()) + 1e-12
            torch.testing.assert_close(got.get(name, torch.zeros_like(grad)), grad, rtol=1e-4, atol=1e-4 * scale,
                                       msg=f"epoch {epoch}, gradient of {name}")
        if epoch == 3:
            low_grads = [g for n, g in got.items() if n.startswith('branches.0.')]
            assert low_grads and any(g.abs().sum() > 0 for g in low_grads)


@pytest.mark.parametrize('recipe', list(RECIPES))
def test_a_frozen_branch_discriminator_is_neither_stepped_nor_scored(recipe, make_solver):
    solver = make_solver(*RECIPES[recipe], *ADVERSARIES[recipe])
    calls: tp.List[tp.Tuple[str, tuple]] = []
    for name in solver.branch_names:
        for adversary in solver.adv_losses[name].values():
            spy(adversary, 'train_adv', calls, f'step_{name}')
            spy(adversary, 'forward', calls, f'score_{name}')
    expected = {1: {'step_low', 'score_low'}, 2: {'step_high', 'score_high'},
                3: {'step_low', 'score_low', 'step_high', 'score_high'}}
    for epoch, tags in expected.items():
        calls.clear()
        train_one_epoch(solver)
        assert {tag for tag, _ in calls} == tags, f"epoch {epoch}"
        for tag, (fake, real) in calls:  # each adversary judges its own branch's rate
            rate = 16000 if tag.endswith('low') else 32000
            assert fake.shape == real.shape and fake.shape[-1] == round(solver.cfg.dataset.segment_duration * rate)


@pytest.mark.parametrize('recipe', list(RECIPES))
def test_every_optimizer_follows_the_phase_learning_rate(recipe, make_solver):
    solver = make_solver(*RECIPES[recipe], *ADVERSARIES[recipe])
    decay = float(solver.cfg.schedule.exponential.lr_decay) if solver.cfg.schedule.lr_scheduler else 1.
    base, joint = float(solver.cfg.optim.lr), float(solver.cfg.cascade.joint_lr)
    assert joint != base
    for lr in (base, base, joint):  # epochs 1, 2, 3
        train_one_epoch(solver)
        optimizers = [solver.optimizer] + [a.optimizer for n in solver.branch_names
                                           for a in solver.adv_losses[n].values()]
        assert len(optimizers) == 3
        for optimizer in optimizers:  # the phase's only update is its first: lr * decay ** 0
            assert [g['lr'] for g in optimizer.param_groups] == pytest.approx([lr] * len(optimizer.param_groups))
    phase = solver.schedule.phases[-1]
    assert phase.lr_at(phase.start + 1000) == pytest.approx(joint * decay ** 1000)
    if recipe != 'encodec':
        assert decay == 0.999996
