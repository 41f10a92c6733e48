"""`BandSplitCompressionSolver`: audiocraft's compression solver taught to train one branch at a time.

It keeps audiocraft's structure (losses declared in config and balanced, adversaries with their own optimizers,
`valid` / `evaluate` / `generate` stages) and adds what the paper needs:

- losses *per branch*: branch `k` is scored on its reconstruction at its own rate (its output plus the
  upsampled lower branches) against the input at that rate, with its own balancer and its own set of
  discriminators working at that rate;
- the schedule of `bandsplit_audiocraft.solvers.schedule`: at every update the solver looks up the phase,
  freezes the branches that do not learn in it (no gradient, eval mode so their codebooks' EMA, k-means
  initialisation and dead-code expiry are off, and their discriminators are not trained), averages the
  losses of the branches that do, sums their quantizer losses, and sets the learning rate of the phase (and
  its decay per update) on the generator's and the discriminators' optimizers;
- the phase is saved in every checkpoint, so a killed run resumes in the phase it was in;
- metrics per branch in every stage, and audio samples written as WAV without ffmpeg.

The training recipe is configuration. `solver=bandsplit_codec` is audiocraft's EnCodec recipe (msstftd
discriminators, balanced losses); `solver=bandsplit_codec/dac_recipe` is DAC's (DAC's discriminator, its
multi-scale mel loss, weighted sum without balancing, exponential learning-rate decay), whose losses and
adversaries come from the `dac` package (`solvers/losses.py`). Either trains any model config: SEANet/RVQ or
DAC branches, one branch or several.

Distributed training (one process per GPU, or gloo processes on CPU) follows audiocraft: each rank sees
`batch_size / world_size` items (`train.prepare_config`), the model starts from rank 0's weights, gradients
and buffers are averaged with `flashy.distrib.sync_model` after the single backward, metrics are averaged
over ranks, only rank 0 writes checkpoints and history, and every rank evaluates and writes the samples of
its share of the data. The balanced gradients are scaled so that a run on N processes takes the same steps
as a one-process run with the same global batch (`balanced_grad_scale`). What still depends on the number of
processes is the quantizers' own statistics (audiocraft's `core_vq`): k-means initialises the codebooks from
rank 0's share of the first batch, and the EMA codebook updates and dead-code counts are computed on each
rank's share and then averaged.
"""

import logging
import math
from pathlib import Path
import typing as tp

from audiocraft.solvers import base, builders
from audiocraft.solvers.compression import CompressionSolver
from audiocraft.utils import checkpoint
import flashy
import omegaconf
import torch
from torch import nn

from ..models.bandsplit import BandSplitCompressionModel, BandSplitResult
from ..models.branch import Branch
from ..models.builders import branch_layout
from .losses import get_adversarial_losses, get_loss
from .schedule import Phase, Schedule

logger = logging.getLogger(__name__)


class PhaseState:
    """The schedule position saved in checkpoints (`phase` entry): last phase and update trained."""

    def __init__(self) -> None:
        self.phase: tp.Optional[str] = None
        self.phase_index: int = -1
        self.update: int = 0

    def state_dict(self) -> dict:
        return {'phase': self.phase, 'phase_index': self.phase_index, 'update': self.update}

    def load_state_dict(self, state: dict) -> None:
        self.phase = state['phase']
        self.phase_index = int(state['phase_index'])
        self.update = int(state['update'])


def branch_config(cfg: omegaconf.DictConfig, sample_rate: int) -> omegaconf.DictConfig:
    """Copy of `cfg` whose `sample_rate` (and every `${sample_rate}` in loss configs) is the branch's."""
    return omegaconf.OmegaConf.merge(cfg, {'sample_rate': sample_rate})


def balanced_grad_scale(balancer: tp.Any, world_size: int) -> float:
    """Factor on the balancer's gradient that makes a step independent of the number of processes.

    A mean loss gives each item of a rank's batch `1 / per-rank batch` of the gradient, which averaging
    over ranks turns into the one-process `1 / global batch`. The balancer instead normalises each loss's
    gradient on the model output (per item with `per_batch_item`, else over the batch, with norms averaged
    over ranks), so the items keep the gradient they would have in one process and averaging over ranks
    divides it by `world_size` (by about its square root without `per_batch_item`), while the quantizer
    penalties, plain means, are not: their weight would grow with the number of processes.
    """
    if world_size <= 1 or not balancer.get('balance_grads', True):
        return 1.
    return float(world_size) if balancer.get('per_batch_item', True) else math.sqrt(world_size)


class BandSplitCompressionSolver(CompressionSolver):
    """Solver training a `BandSplitCompressionModel` in cascade or jointly."""

    model: BandSplitCompressionModel

    def __init__(self, cfg: omegaconf.DictConfig):
        layout = branch_layout(cfg)
        if not layout:
            raise ValueError("The config declares no branch (bandsplit.branches).")
        if layout[-1][1] != cfg.sample_rate:
            raise ValueError(f"sample_rate is {cfg.sample_rate} Hz but the top branch works at {layout[-1][1]} Hz.")
        self.branch_names = [name for name, _ in layout]
        self.branch_rates = [rate for _, rate in layout]
        self.schedule = Schedule.from_experiment(cfg)
        self.quantizer_weights = {str(k): float(v) for k, v in (cfg.get('quantizer_losses') or {}).items()}
        unknown = set(self.quantizer_weights) - set(Branch.QUANTIZER_LOSSES)
        if unknown:
            raise ValueError(f"quantizer_losses: unknown loss(es) {sorted(unknown)}; expected among "
                             f"{list(Branch.QUANTIZER_LOSSES)}.")
        omegaconf.OmegaConf.set_struct(cfg, False)
        cfg.optim.epochs = self.schedule.total_epochs
        # CompressionSolver.__init__ builds one set of losses for a single output: build ours per branch.
        base.StandardSolver.__init__(self, cfg)
        self.rng: torch.Generator
        if 'train' in self.dataloaders and len(self.dataloaders['train']) < self.train_updates_per_epoch:
            raise ValueError(f"The train loader yields {len(self.dataloaders['train'])} batches per epoch but "
                             f"optim.updates_per_epoch is {self.train_updates_per_epoch}: raise "
                             f"dataset.train.num_samples to at least "
                             f"{self.train_updates_per_epoch * self.cfg.dataset.batch_size}.")
        self.adv_losses = nn.ModuleDict()
        self.aux_losses = nn.ModuleDict()
        self.info_losses = nn.ModuleDict()
        self.balancers = {}
        for name, rate in layout:
            branch_cfg = branch_config(self.cfg, rate)
            self.adv_losses[name] = get_adversarial_losses(branch_cfg)
            self.aux_losses[name] = nn.ModuleDict()
            self.info_losses[name] = nn.ModuleDict()
            weights = {}
            for loss_name, weight in self.cfg.losses.items():
                if loss_name in ['adv', 'feat']:
                    for adv_name in self.adv_losses[name]:
                        weights[f'{loss_name}_{adv_name}'] = weight
                elif weight > 0:
                    self.aux_losses[name][loss_name] = get_loss(loss_name, branch_cfg)
                    weights[loss_name] = weight
                else:
                    self.info_losses[name][loss_name] = get_loss(loss_name, branch_cfg)
            self.balancers[name] = builders.get_balancer(weights, self.cfg.balancer)
        self.adv_losses.to(self.device)
        self.aux_losses.to(self.device)
        self.info_losses.to(self.device)
        self.register_stateful('adv_losses')
        self.phase_state = PhaseState()
        self.register_stateful('phase_state')
        self.logger.info("Schedule (%d epochs of %d updates): %s", self.schedule.total_epochs,
                         self.schedule.updates_per_epoch, self.schedule.describe())

    # ---- model and data ---------------------------------------------------------------------------------

    def build_model(self):
        super().build_model()
        if not isinstance(self.model, BandSplitCompressionModel):
            raise TypeError(f"The bandsplit_codec solver trains band-split models (compression_model: bandsplit), "
                            f"got {type(self.model).__name__}.")
        flashy.distrib.broadcast_model(self.model)  # every rank starts from rank 0's weights, as with DDP
        self.grad_scale = balanced_grad_scale(self.cfg.balancer, flashy.distrib.world_size())

    # ---- schedule ----------------------------------------------------------------------------------------

    def update_index(self, idx: int) -> int:
        """Global 0-based index of the training update at batch `idx` of the current epoch."""
        return (self.epoch - 1) * self.train_updates_per_epoch + idx

    @property
    def current_phase(self) -> Phase:
        return self.schedule.phase_of_epoch(self.epoch)

    def started_branches(self, phase: Phase) -> int:
        """Number of branches that have started learning by `phase`: the ones evaluation runs."""
        return max(max(p.trained) for p in self.schedule.phases[:phase.index + 1]) + 1

    def apply_phase(self, phase: Phase, update: int) -> None:
        """Freeze every branch `phase` does not train; set the learning rate of `update` on every optimizer."""
        lr = phase.lr_at(update)
        optimizers = [self.optimizer]
        for k, branch in enumerate(self.model.branches):
            trained = k in phase.trained
            branch.train(trained and self.is_training)
            branch.requires_grad_(trained)
            for adversary in self.adv_losses[self.branch_names[k]].values():
                adversary.train(trained and self.is_training)
                optimizers.append(adversary.optimizer)
        for optimizer in optimizers:
            for group in optimizer.param_groups:
                group['lr'] = lr
        if self.phase_state.phase_index != phase.index:
            self.logger.info("Entering phase %r: training branches %s at lr %g.", phase.name,
                             [self.branch_names[k] for k in phase.trained], phase.lr)
        self.phase_state.phase = phase.name
        self.phase_state.phase_index = phase.index

    def restore(self, *args, **kwargs):
        restored = super().restore(*args, **kwargs)  # its checkpoints trusted by the builder (`registry`)
        if restored and self.phase_state.phase is not None:
            expected = self.schedule.phase_at(max(self.phase_state.update - 1, 0))
            if expected.index != self.phase_state.phase_index:
                raise RuntimeError(f"Checkpoint was saved in phase {self.phase_state.phase!r} at update "
                                   f"{self.phase_state.update}, but this config's schedule puts that update in "
                                   f"phase {expected.name!r}: the schedule changed since the checkpoint.")
            self.logger.info("Resuming in phase %r after update %d.", self.current_phase.name,
                             self.phase_state.update)
        return restored

    # ---- steps -------------------------------------------------------------------------------------------

    def run_step(self, idx: int, batch: torch.Tensor, metrics: dict):
        """One training or valid step: per-branch losses of the branches the current phase trains."""
        x = batch.to(self.device)
        phase = self.current_phase
        if self.is_training:
            update = self.update_index(idx)
            phase = self.schedule.phase_at(update)
            self.apply_phase(phase, update)
            scored = list(phase.trained)
            qres = self.model(x, num_branches=phase.num_branches)
        else:
            qres = self.model(x, num_branches=self.started_branches(phase))
            scored = list(range(len(qres.branch_recons)))
        assert isinstance(qres, BandSplitResult)
        metrics['bandwidth'] = qres.bandwidth.mean()
        metrics['phase'] = float(phase.index)

        outputs: tp.List[torch.Tensor] = []
        grads: tp.List[torch.Tensor] = []
        weight = 1. / len(scored)  # branch losses are averaged
        for k in scored:
            name = self.branch_names[k]
            estimate, reference = qres.branch_recons[k], qres.branch_targets[k]
            metrics[f'bandwidth_{name}'] = qres.branch_bandwidths[k]
            if self.is_training and len(self.adv_losses[name]) > 0 \
                    and torch.rand(1, generator=self.rng).item() <= 1 / self.cfg.adversarial.every:
                for adv_name, adversary in self.adv_losses[name].items():
                    metrics[f'd_{adv_name}_{name}'] = adversary.train_adv(estimate, reference).detach()
            # The losses see a detached leaf: the balancer turns them into one gradient on it, and all
            # branches' gradients are then pushed through the model in a single backward.
            leaf = estimate.detach().requires_grad_(self.is_training)
            losses: tp.Dict[str, torch.Tensor] = {}
            for adv_name, adversary in self.adv_losses[name].items():
                losses[f'adv_{adv_name}'], losses[f'feat_{adv_name}'] = adversary(leaf, reference)
            for loss_name, criterion in self.aux_losses[name].items():
                losses[loss_name] = criterion(leaf, reference)
            metrics.update({f'{loss_name}_{name}': value.detach() for loss_name, value in losses.items()})
            if self.is_training:
                metrics[f'g_loss_{name}'] = self.balancers[name].backward(losses, leaf) * self.grad_scale
                metrics.update({f'{key}_{name}': value for key, value in self.balancers[name].metrics.items()})
                outputs.append(estimate)
                grads.append(leaf.grad * (weight * self.grad_scale))
            with torch.no_grad():
                for loss_name, criterion in self.info_losses[name].items():
                    value = criterion(estimate, reference)
                    # audiocraft's sisnr loss is the negated SI-SNR: log the SI-SNR itself, in dB.
                    metrics[f'{loss_name}_{name}'] = -value if loss_name == 'sisnr' else value
            metrics.update({f'{loss_name}_{name}': value.detach()
                            for loss_name, value in qres.branch_quantizer_losses[k].items()})

        if self.is_training:
            # Quantizer losses are summed over the trained branches, each with its configured weight.
            penalty = sum((self.quantizer_weights.get(loss_name, 0.) * value for k in scored
                           for loss_name, value in qres.branch_quantizer_losses[k].items()),
                          torch.zeros((), device=x.device))
            if penalty.requires_grad:
                outputs.append(penalty)
                grads.append(torch.ones_like(penalty))
            torch.autograd.backward(outputs, grads)
            flashy.distrib.sync_model(self.model)
            if self.cfg.optim.max_norm:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.max_norm)
            self.optimizer.step()
            self.optimizer.zero_grad()
            self.phase_state.update = self.update_index(idx) + 1
        return metrics

    # ---- evaluation --------------------------------------------------------------------------------------

    def should_run_stage(self, stage_name: str) -> bool:
        """audiocraft's rule (every `<stage>.every` epochs and at the last epoch), except that
        `<stage>.last_epoch=false` leaves out the last epoch (the reproduction scores its models apart)."""
        if self.cfg[stage_name].get('last_epoch', True):
            return super().should_run_stage(stage_name)
        every = self.cfg[stage_name].get('every')
        return bool(every) and self.epoch % every == 0

    def evaluate(self):
        """Evaluate stage: reconstruction metrics of the full-band output and of every branch's output."""
        from ..evaluation.metrics import compute_metrics
        self.model.eval()
        loader = self.dataloaders['evaluate']
        lp = self.log_progress(f'{self.current_stage} inference', loader, total=len(loader),
                               updates=self.log_updates)
        average = flashy.averager()
        metrics: dict = {}
        names = list(self.cfg.evaluate.metric_names)
        num_branches = self.started_branches(self.current_phase)
        for batch in lp:
            x = batch.to(self.device)
            with torch.no_grad():
                qres = self.model(x, num_branches=num_branches)
            step: dict = {}
            full = compute_metrics(qres.x.cpu(), x.cpu(), self.cfg.sample_rate, names)
            step.update({key: value.mean() for key, value in full.items()})
            for k, (estimate, reference) in enumerate(zip(qres.branch_recons, qres.branch_targets)):
                per = compute_metrics(estimate.cpu(), reference.cpu(), qres.branch_rates[k], names)
                step.update({f'{key}_{self.branch_names[k]}': value.mean() for key, value in per.items()})
            metrics = average(step)
        return flashy.distrib.average_metrics(metrics, len(loader))

    def generate(self):
        """Generate stage: write the reference, the output and every branch's reconstruction as WAV."""
        from ..data.audio_io import write_wav
        self.model.eval()
        folder = Path(self.folder) / str(self.cfg.generate.path) / f'epoch_{self.epoch:04d}'
        loader = self.dataloaders['generate']
        lp = self.log_progress(str(self.current_stage), loader, total=len(loader), updates=self.log_updates)
        num_branches = self.started_branches(self.current_phase)
        # Rank r holds items r, r + world, r + 2 world... of the split: samples are named by that index.
        rank, world = flashy.distrib.rank(), flashy.distrib.world_size()
        count = 0
        for batch in lp:
            reference = batch[0] if isinstance(batch, (tuple, list)) else batch
            reference = reference.to(self.device)
            with torch.no_grad():
                qres = self.model(reference, num_branches=num_branches)
            for b in range(reference.shape[0]):
                stem = folder / f'{rank + world * count:03d}'
                write_wav(f'{stem}_reference.wav', reference[b].cpu(), self.cfg.sample_rate, overwrite=True)
                write_wav(f'{stem}_output.wav', qres.x[b].cpu(), self.cfg.sample_rate, overwrite=True)
                for k, recon in enumerate(qres.branch_recons):
                    write_wav(f'{stem}_{self.branch_names[k]}.wav', recon[b].cpu(), qres.branch_rates[k],
                              overwrite=True)
                count += 1
        total = torch.tensor(float(count), device=self.device)
        flashy.distrib.all_reduce(total)
        return {'samples': float(total)}

    def show(self):
        self.logger.info("Band-split model, %d codebooks at %g kbps:", self.model.total_codebooks,
                         self.model.bandwidth)
        self.log_model_summary(self.model)
        self.logger.info("Schedule: %s", self.schedule.describe())

    # ---- checkpoints -------------------------------------------------------------------------------------

    def save_checkpoints(self):
        """Save as audiocraft does, then keep only the last `checkpoint.keep_last` epoch checkpoints.

        audiocraft's `StandardSolver.save_checkpoints` calls `flush_stale_checkpoints` without `keep_last`, so
        every `checkpoint_<epoch>.th` stayed on disk. The flush only removes epoch checkpoints (numbered
        names): `checkpoint.th`, the last state, is always kept. `keep_every_states` is no retention policy in
        audiocraft (it selects the state entries written in epoch checkpoints): nothing more to keep for it.
        `keep_last` null or 0 keeps every epoch checkpoint. The files are removed by the process that wrote
        them: rank 0 (with FSDP, every rank its own shards, which the flush alone matches).
        """
        super().save_checkpoints()
        keep_last = self.cfg.checkpoint.get('keep_last')
        if not keep_last or int(keep_last) <= 0:
            return
        if not flashy.distrib.is_rank_zero() and not self.cfg.fsdp.use:
            return
        checkpoint.flush_stale_checkpoints(self.checkpoint_path(), keep_last=int(keep_last))
