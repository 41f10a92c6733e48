"""The losses and adversaries the band-split solver can be configured with: audiocraft's, and DAC's.

The solver builds every reconstruction loss named in `losses:` and every adversary named in
`adversarial.adversaries` through `get_loss` and `get_adversarial_losses`. Names audiocraft knows (`l1`,
`msspec`, `msstftd`, ...) come from audiocraft's builders, as in its compression solver (the EnCodec
recipe). Two more names bring in DAC's training recipe, built from the `dac` package's own modules
(`descript-audio-codec`) rather than rewritten:

- loss `dac_mel`: `dac.nn.loss.MelSpectrogramLoss`, configured by the `dac_mel` block;
- adversary `dac`: `dac.model.discriminator.Discriminator` (multi-period and multi-band multi-resolution
  STFT discriminators) trained with `dac.nn.loss.GANLoss` (least-squares GAN, L1 feature matching),
  configured by the `dac_discriminator` block.

Both take waveforms `[B, C, T]` at the rate of the branch they score (`sample_rate` of the config they are
built from) and wrap them in `audiotools.AudioSignal`, which DAC's modules expect.
"""

import typing as tp

from audiocraft.solvers import builders
import flashy
import omegaconf
import torch
from torch import nn


def _signal(x: torch.Tensor, sample_rate: int) -> tp.Any:
    from audiotools import AudioSignal
    return AudioSignal(x, sample_rate)


class DACMelLoss(nn.Module):
    """DAC's multi-scale mel loss on waveforms.

    Args:
        sample_rate (int): Sample rate of the compared signals.
        **kwargs: `dac.nn.loss.MelSpectrogramLoss` arguments (`n_mels`, `window_lengths`, `mag_weight`, ...).
    """

    def __init__(self, sample_rate: int, **kwargs: tp.Any):
        super().__init__()
        from dac.nn.loss import MelSpectrogramLoss
        self.sample_rate = int(sample_rate)
        self.loss = MelSpectrogramLoss(**kwargs)

    def forward(self, estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        return self.loss(_signal(estimate, self.sample_rate), _signal(reference, self.sample_rate))


class DACAdversary(nn.Module):
    """DAC's discriminator with its GAN losses and its own optimizer.

    It has the interface of audiocraft's `AdversarialLoss`, so the solver trains it the same way:
    `train_adv(fake, real)` takes one optimizer step of the discriminator on DAC's discriminator loss, and
    `forward(fake, real)` returns the generator's adversarial and feature-matching losses (the
    discriminator's weights receive no gradient from them). The optimizer state is saved with the module.

    Args:
        sample_rate (int): Sample rate of the signals it judges.
        optimizer (dict): audiocraft optimizer config (`optimizer`, `lr`, `adam`), as `optim`.
        periods (list of int): Periods of the multi-period discriminators.
        fft_sizes (list of int): Windows of the multi-band STFT discriminators.
        bands (list of pairs of float): Frequency bands of the STFT discriminators, as fractions of Nyquist.
        max_norm (float): Gradient clipping of the discriminator's step (0: none).
    """

    def __init__(self, sample_rate: int, optimizer: tp.Any, periods: tp.Sequence[int],
                 fft_sizes: tp.Sequence[int], bands: tp.Sequence[tp.Sequence[float]], max_norm: float = 0.):
        super().__init__()
        from dac.model.discriminator import Discriminator
        from dac.nn.loss import GANLoss
        self.sample_rate = int(sample_rate)
        discriminator = Discriminator(rates=[], periods=list(periods), fft_sizes=list(fft_sizes),
                                      sample_rate=self.sample_rate, bands=[tuple(b) for b in bands])
        self.gan = GANLoss(discriminator)
        self.optimizer = builders.get_optimizer(self.gan.parameters(), optimizer)
        self.max_norm = float(max_norm)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + 'optimizer'] = self.optimizer.state_dict()
        return destination

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        self.optimizer.load_state_dict(state_dict.pop(prefix + 'optimizer'))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def train_adv(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        loss = self.gan.discriminator_loss(_signal(fake.detach(), self.sample_rate),
                                           _signal(real.detach(), self.sample_rate))
        self.optimizer.zero_grad()
        with flashy.distrib.eager_sync_model(self.gan):
            loss.backward()
        if self.max_norm:
            torch.nn.utils.clip_grad_norm_(self.gan.parameters(), self.max_norm)
        self.optimizer.step()
        return loss.detach()

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> tp.Tuple[torch.Tensor, torch.Tensor]:
        with flashy.utils.readonly(self.gan):
            return self.gan.generator_loss(_signal(fake, self.sample_rate), _signal(real, self.sample_rate))


def get_loss(name: str, cfg: omegaconf.DictConfig) -> nn.Module:
    """The loss `name`, configured by the config block of the same name (DAC's or audiocraft's)."""
    if name == 'dac_mel':
        return DACMelLoss(cfg.sample_rate, **omegaconf.OmegaConf.to_container(cfg.dac_mel, resolve=True))
    return builders.get_loss(name, cfg)


def get_adversarial_losses(cfg: omegaconf.DictConfig) -> nn.ModuleDict:
    """Every adversary of `adversarial.adversaries`, at `cfg.sample_rate`, on `cfg.device`."""
    names = list(cfg.adversarial.get('adversaries', []))
    theirs = [name for name in names if name != 'dac']
    audiocraft_cfg = omegaconf.OmegaConf.merge(cfg, {'adversarial': {'adversaries': theirs}})
    built = builders.get_adversarial_losses(audiocraft_cfg) if theirs else nn.ModuleDict()
    adversaries = nn.ModuleDict()
    for name in names:
        if name == 'dac':
            options = omegaconf.OmegaConf.to_container(cfg.dac_discriminator, resolve=True)
            assert isinstance(options, dict)
            adversaries[name] = DACAdversary(cfg.sample_rate, cfg.optim, **options).to(cfg.device)
        else:
            adversaries[name] = built[name]
    return adversaries
