"""Synthetic music-like signals with content in both the 0-8 and 8-16 kHz bands, from seeded generators.

`synth_clip` makes one mono clip of a given kind, a deterministic function of the generator's state. Every
clip has real content below and above 8 kHz, the split frequency of the two-branch codec:

- `pluck`: plucked-string notes, inharmonic partials up to ~15 kHz that decay faster the higher they are,
  with a pick-noise transient;
- `bowed`: sustained notes with an ADSR envelope, delayed vibrato and bow noise;
- `melody`: a short melody on a scale, with a plucked or bowed timbre;
- `noise`: bursts of coloured noise (white, pink, tilted, band-pass, high-pass);
- `chirp_linear`, `chirp_exp`: linear and exponential sweeps across 8 kHz, with a few harmonics;
- `drums`: a synthetic kick / snare / hi-hat pattern;
- `mixture`: a music-like clip mixing a melody, a bass line and drums at a common tempo.

Each clip is then checked for band balance (the share of its energy above 8 kHz is brought into
`[1.5 %, 60 %]` with a smooth shelf if needed) and peak-normalized to -3..-1 dBFS. `demo_signal` is one
fixed mixture for demos; `corpus.generate_corpus` writes clips of every kind to disk.

Example:
    >>> import numpy as np
    >>> clip = synth_clip('drums', 1.0, 32000, np.random.default_rng(0))
    >>> clip.shape, clip.dtype
    ((32000,), dtype('float32'))
"""

import typing as tp

import numpy as np
import torch

# Every kind `synth_clip` makes; the music-like ones (tones, drums, mixtures of them) make up the corpus, the
# chirps and the noise serve tests and analyses.
KINDS: tp.Tuple[str, ...] = ('mixture', 'melody', 'drums', 'chirp_linear', 'pluck', 'noise', 'bowed', 'chirp_exp')
MUSIC_KINDS: tp.Tuple[str, ...] = ('mixture', 'melody', 'drums', 'pluck', 'bowed')
SPLIT_FREQUENCY = 8000.0  # Hz, the band boundary every clip has energy on both sides of.
MIN_HIGH_FRACTION, MAX_HIGH_FRACTION = 0.015, 0.60
MIN_SAMPLE_RATE = 32000
_DEMO_SEED = 20240611


# ----------------------------------------------------------------------------------------------------------
# Building blocks. All signals are float64 numpy arrays of shape [T]; `sr` is the sample rate in Hz.


def _max_frequency(sr: int) -> float:
    """Highest frequency synthesized explicitly, safely below Nyquist."""
    return 0.47 * sr


def _smoothstep(x: np.ndarray, start: float, stop: float) -> np.ndarray:
    """0 below `start`, 1 above `stop`, raised cosine in between (`stop` may be below `start`)."""
    ramp = np.clip((x - start) / (stop - start), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * ramp)


def _fades(x: np.ndarray, sr: int, fade_in: float = 0.002, fade_out: float = 0.01) -> np.ndarray:
    """Raised-cosine fade in and out at the clip edges, so that clips start and end without clicks."""
    x = x.copy()
    n_in, n_out = min(len(x), int(fade_in * sr)), min(len(x), int(fade_out * sr))
    if n_in > 0:
        x[:n_in] *= _smoothstep(np.arange(n_in, dtype=np.float64), 0, n_in)
    if n_out > 0:
        x[len(x) - n_out:] *= _smoothstep(np.arange(n_out, dtype=np.float64), n_out, 0)
    return x


def _shape_spectrum(x: np.ndarray, sr: int, gain: tp.Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Zero-phase filtering of the whole signal: multiply its spectrum by `gain(frequencies)`."""
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1.0 / sr)
    return np.fft.irfft(spectrum * gain(freqs), n=len(x))


def _colored_noise(n: int, sr: int, rng: np.random.Generator, color: str) -> np.ndarray:
    """White noise shaped to `color`, normalized to unit RMS."""
    white = rng.standard_normal(n)
    if color == 'white':
        shaped = white
    elif color == 'pink':
        shaped = _shape_spectrum(white, sr, lambda f: 1.0 / np.sqrt(np.maximum(f, 30.0)))
    elif color == 'tilted':
        slope = rng.uniform(-0.5, 0.7)  # power-law exponent of the amplitude spectrum
        shaped = _shape_spectrum(white, sr, lambda f: (np.maximum(f, 50.0) / 1000.0) ** slope)
    elif color == 'bandpass':
        center, octaves = np.exp(rng.uniform(np.log(400.0), np.log(13000.0))), rng.uniform(0.3, 1.5)
        shaped = _shape_spectrum(
            white, sr, lambda f: np.exp(-0.5 * (np.log2(np.maximum(f, 1.0) / center) / (octaves / 2)) ** 2))
    else:
        assert color == 'highpass', color
        cutoff = rng.uniform(2000.0, 10000.0)
        shaped = _shape_spectrum(white, sr, lambda f: _smoothstep(f, 0.7 * cutoff, cutoff))
    return shaped / (np.sqrt(np.mean(shaped ** 2)) + 1e-12)


def _adsr(n: int, sr: int, attack: float, decay: float, sustain: float, release: float) -> np.ndarray:
    """Attack-decay-sustain-release envelope of a note lasting `n` samples (release inside the note)."""
    t = np.arange(n) / sr
    env = np.where(t < attack, t / max(attack, 1e-6),
                   sustain + (1.0 - sustain) * np.exp(-(t - attack) / max(decay, 1e-6)))
    env *= np.clip((n / sr - t) / max(release, 1e-6), 0.0, 1.0)
    return env


def _random_timbre(rng: np.random.Generator, style: str) -> tp.Dict[str, float]:
    """Random parameters of a harmonic instrument: 'pluck' (decaying partials) or 'bowed' (sustained)."""
    if style == 'pluck':
        return dict(style=0.0, tilt=rng.uniform(0.9, 1.5), inharmonicity=rng.uniform(0.0, 3e-4),
                    even=1.0, pluck_position=rng.uniform(0.08, 0.3), decay_base=rng.uniform(1.0, 4.0),
                    decay_per_khz=rng.uniform(0.1, 0.6), vibrato_depth=0.0, vibrato_rate=0.0,
                    noise=rng.uniform(0.2, 0.6))
    assert style == 'bowed', style
    return dict(style=1.0, tilt=rng.uniform(0.8, 1.3), inharmonicity=rng.uniform(0.0, 5e-5),
                even=rng.choice([1.0, rng.uniform(0.3, 1.0)]), pluck_position=0.0, decay_base=0.0,
                decay_per_khz=rng.uniform(0.0, 0.1), vibrato_depth=rng.uniform(0.002, 0.01),
                vibrato_rate=rng.uniform(4.5, 7.0), noise=rng.uniform(0.02, 0.08))


def _note(f0: float, n: int, sr: int, rng: np.random.Generator, timbre: tp.Dict[str, float],
          max_partials: int = 120) -> np.ndarray:
    """One harmonic (slightly inharmonic) note of `n` samples at fundamental `f0`, unit peak.

    Partial `k` sits at `k f0 sqrt(1 + B k^2)` with amplitude `k^-tilt` (even partials weighted, pluck-position comb
    and random jitter), decays at `decay_base + decay_per_khz * f_k / 1000` per second, and follows a
    common vibrato. Partials that would exceed `0.47 sr` are left out, so nothing aliases.
    """
    t = np.arange(n) / sr
    vibrato_onset = _smoothstep(t, 0.15, 0.4)
    f0_track = f0 * (1.0 + timbre['vibrato_depth'] * vibrato_onset
                     * np.sin(2 * np.pi * timbre['vibrato_rate'] * t + rng.uniform(0, 2 * np.pi)))
    base_phase = 2 * np.pi * np.cumsum(f0_track) / sr
    f0_peak = f0 * (1.0 + timbre['vibrato_depth'])
    out = np.zeros(n)
    for k in range(1, max_partials + 1):
        stretch = k * np.sqrt(1.0 + timbre['inharmonicity'] * k * k)
        freq = stretch * f0
        if stretch * f0_peak >= _max_frequency(sr):
            break
        amp = k ** -timbre['tilt'] * np.exp(rng.normal(0.0, 0.25))
        if k % 2 == 0:
            amp *= timbre['even']
        if timbre['pluck_position'] > 0:
            amp *= 0.2 + 0.8 * abs(np.sin(np.pi * k * timbre['pluck_position']))
        decay = timbre['decay_base'] + timbre['decay_per_khz'] * freq / 1000.0
        out += amp * np.exp(-decay * t) * np.sin(stretch * base_phase + rng.uniform(0, 2 * np.pi))
    if timbre['style'] == 0.0:  # pluck: a bright, short pick transient.
        burst = _colored_noise(n, sr, rng, 'highpass') * np.exp(-t / rng.uniform(0.003, 0.012))
        out += timbre['noise'] * np.abs(out).max() * burst / (np.abs(burst).max() + 1e-12)
        env = _adsr(n, sr, rng.uniform(0.001, 0.004), 1.0, 1.0, min(0.03, n / sr / 4))
    else:  # bowed: ADSR and bow noise following the envelope.
        env = _adsr(n, sr, rng.uniform(0.04, 0.2), rng.uniform(0.1, 0.4), rng.uniform(0.6, 0.9),
                    min(rng.uniform(0.08, 0.3), n / sr / 3))
        bow = _colored_noise(n, sr, rng, 'bandpass')
        out += timbre['noise'] * np.sqrt(np.mean(out ** 2)) * bow
    out *= env
    return out / (np.abs(out).max() + 1e-12)


def _midi_to_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


_SCALES = {'major': (0, 2, 4, 5, 7, 9, 11), 'minor': (0, 2, 3, 5, 7, 8, 10), 'pentatonic': (0, 2, 4, 7, 9)}


def _melody(n: int, sr: int, rng: np.random.Generator, *, tempo: tp.Optional[float] = None,
            low_midi: float = 55.0, high_midi: float = 79.0, style: tp.Optional[str] = None,
            max_partials: int = 120) -> np.ndarray:
    """A melody of notes on a random scale, one or two beats long each, walking between MIDI pitches."""
    tempo = tempo or rng.uniform(80.0, 160.0)
    beat = 60.0 / tempo
    scale = _SCALES[rng.choice(sorted(_SCALES))]
    tonic = int(rng.integers(int(low_midi), int(high_midi) - 11))
    pitches = [tonic + 12 * octave + step for octave in range(3) for step in scale]
    pitches = [p for p in pitches if low_midi <= p <= high_midi]
    timbre = _random_timbre(rng, style or str(rng.choice(['pluck', 'bowed'])))
    legato = rng.uniform(0.6, 1.0)
    out, start, index = np.zeros(n), 0, int(rng.integers(len(pitches)))
    while start < n:
        length = int(beat * sr * rng.choice([0.5, 0.5, 1.0, 1.0, 1.5, 2.0]))
        sounding = min(n - start, max(int(length * legato), int(0.05 * sr)))
        note = _note(_midi_to_hz(pitches[index]), sounding, sr, rng, timbre, max_partials)
        out[start:start + sounding] += rng.uniform(0.6, 1.0) * note
        index = int(np.clip(index + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3]), 0, len(pitches) - 1))
        start += length
    return out


def _chirp(n: int, sr: int, rng: np.random.Generator, mode: str) -> np.ndarray:
    """1 to 3 successive sweeps across 8 kHz, linear or exponential in frequency, with 1 to 3 harmonics."""
    out, sweeps = np.zeros(n), int(rng.integers(1, 4))
    bounds = np.linspace(0, n, sweeps + 1).astype(int)
    top = _max_frequency(sr)
    for start, stop in zip(bounds[:-1], bounds[1:]):
        length = stop - start
        low = rng.uniform(200.0, 6000.0) if mode == 'linear' else np.exp(rng.uniform(np.log(50.0), np.log(800.0)))
        high = rng.uniform(max(9500.0, 0.6 * top), top)
        f_start, f_stop = (low, high) if rng.random() < 0.5 else (high, low)
        u = np.arange(length) / max(length - 1, 1)
        if mode == 'linear':
            freq = f_start + (f_stop - f_start) * u
        else:
            freq = f_start * (f_stop / f_start) ** u
        phase = 2 * np.pi * np.cumsum(freq) / sr
        sweep = np.zeros(length)
        for harmonic in range(1, int(rng.integers(1, 4)) + 1):
            gate = _smoothstep(harmonic * freq, top, 0.93 * top)  # fade out partials nearing Nyquist.
            sweep += harmonic ** -1.0 * gate * np.sin(harmonic * phase + rng.uniform(0, 2 * np.pi))
        out[start:stop] += _fades(sweep, sr, 0.005, 0.005)
    return out


def _noise_bursts(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """3 to 7 bursts of coloured noise with percussive or swelling envelopes, possibly overlapping."""
    out = np.zeros(n)
    for _ in range(int(rng.integers(3, 8))):
        length = min(n, int(rng.uniform(0.05, 0.6) * sr))
        start = int(rng.integers(0, max(1, n - length)))
        color = str(rng.choice(['white', 'pink', 'tilted', 'bandpass', 'bandpass', 'highpass']))
        burst = _colored_noise(length, sr, rng, color)
        if rng.random() < 0.5:
            env = _adsr(length, sr, rng.uniform(0.001, 0.02), rng.uniform(0.03, 0.3), 0.0, 0.01)
        else:
            env = _adsr(length, sr, rng.uniform(0.02, 0.2), 0.1, 1.0, rng.uniform(0.02, 0.2))
        out[start:start + length] += rng.uniform(0.3, 1.0) * burst * env
    return out


def _kick(sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(rng.uniform(0.2, 0.4) * sr)
    t = np.arange(n) / sr
    f_high, f_low, sweep = rng.uniform(110.0, 200.0), rng.uniform(40.0, 60.0), rng.uniform(0.02, 0.06)
    freq = f_low + (f_high - f_low) * np.exp(-t / sweep)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / rng.uniform(0.08, 0.2))
    click = _colored_noise(n, sr, rng, 'highpass') * np.exp(-t / rng.uniform(0.001, 0.004))
    return body + rng.uniform(0.15, 0.4) * click


def _snare(sr: int, rng: np.random.Generator) -> np.ndarray:
    n = int(rng.uniform(0.15, 0.3) * sr)
    t = np.arange(n) / sr
    tone = np.sin(2 * np.pi * rng.uniform(170.0, 250.0) * t) * np.exp(-t / rng.uniform(0.03, 0.07))
    rattle = _colored_noise(n, sr, rng, str(rng.choice(['white', 'tilted']))) * np.exp(-t / rng.uniform(0.05, 0.12))
    return rng.uniform(0.4, 0.8) * tone + rng.uniform(0.3, 0.6) * rattle


def _hat(sr: int, rng: np.random.Generator, open_hat: bool) -> np.ndarray:
    n = int((rng.uniform(0.25, 0.45) if open_hat else rng.uniform(0.04, 0.1)) * sr)
    t = np.arange(n) / sr
    if rng.random() < 0.5:  # metallic: a cluster of inharmonic square waves, then high-passed.
        square = sum(np.sign(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)))
                     for f in rng.uniform(250.0, 900.0, size=6))
        cutoff = rng.uniform(6000.0, 9000.0)
        tone = _shape_spectrum(square, sr, lambda f: _smoothstep(f, 0.7 * cutoff, cutoff)
                               * _smoothstep(f, _max_frequency(sr), 0.9 * _max_frequency(sr)))
    else:
        tone = _colored_noise(n, sr, rng, 'highpass')
    tone = tone / (np.abs(tone).max() + 1e-12)
    decay = rng.uniform(0.12, 0.3) if open_hat else rng.uniform(0.01, 0.04)
    return tone * np.exp(-t / decay)


def _drums(n: int, sr: int, rng: np.random.Generator, *, tempo: tp.Optional[float] = None) -> np.ndarray:
    """A one-bar-repeating kick / snare / hi-hat pattern on a sixteenth-note grid."""
    tempo = tempo or rng.uniform(85.0, 160.0)
    step = 60.0 / tempo / 4
    kicks = {0, 8} | {s for s in range(2, 16, 2) if rng.random() < 0.2}
    snares = {4, 12} | {s for s in range(16) if s not in (4, 12) and rng.random() < 0.08}
    hat_every = int(rng.choice([1, 2]))
    open_hats = {s for s in range(2, 16, 4) if rng.random() < 0.25}
    sounds = {'kick': _kick(sr, rng), 'snare': _snare(sr, rng), 'hat': _hat(sr, rng, False),
              'open_hat': _hat(sr, rng, True)}
    gains = {'kick': 1.0, 'snare': rng.uniform(0.6, 0.9), 'hat': rng.uniform(0.3, 0.6),
             'open_hat': rng.uniform(0.3, 0.5)}
    out = np.zeros(n)
    for index in range(int(np.ceil(n / sr / step))):
        s = index % 16
        hits = []
        if s in kicks:
            hits.append('kick')
        if s in snares:
            hits.append('snare')
        if s in open_hats:
            hits.append('open_hat')
        elif s % hat_every == 0:
            hits.append('hat')
        start = int(round(index * step * sr))
        for name in hits:
            sound = sounds[name][:n - start]
            velocity = rng.uniform(0.7, 1.0) * (1.2 if name == 'hat' and s % 4 == 0 else 1.0)
            out[start:start + len(sound)] += gains[name] * velocity * sound
    return out


def _mixture(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A music-like clip: a melody, a bass line and drums at one tempo, each at a random level."""
    tempo = rng.uniform(85.0, 150.0)
    melody = _melody(n, sr, rng, tempo=tempo, low_midi=60.0, high_midi=86.0)
    bass = _melody(n, sr, rng, tempo=tempo, low_midi=28.0, high_midi=50.0, style='pluck', max_partials=40)
    drums = _drums(n, sr, rng, tempo=tempo)

    def rms(x: np.ndarray) -> float:
        return float(np.sqrt(np.mean(x ** 2))) + 1e-12

    return (melody / rms(melody) + rng.uniform(0.5, 0.9) * bass / rms(bass)
            + rng.uniform(0.4, 0.9) * drums / rms(drums))


def _pluck(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """2 to 4 plucked notes (fewer in very short clips), each ringing until the next one or the clip's end."""
    count = min(int(rng.integers(2, 5)), max(1, n // int(0.2 * sr)))
    weights = rng.uniform(0.5, 1.5, size=count)
    bounds = np.concatenate([[0], np.cumsum(weights) / weights.sum() * n]).astype(int)
    bounds[-1] = n
    out = np.zeros(n)
    for start, stop in zip(bounds[:-1], bounds[1:]):
        f0 = np.exp(rng.uniform(np.log(150.0), np.log(700.0)))
        out[start:stop] += rng.uniform(0.6, 1.0) * _note(f0, stop - start, sr, rng, _random_timbre(rng, 'pluck'))
    return out


def _bowed(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """1 or 2 sustained bowed notes with vibrato."""
    count = int(rng.integers(1, 3))
    bounds = np.linspace(0, n, count + 1).astype(int)
    out = np.zeros(n)
    for start, stop in zip(bounds[:-1], bounds[1:]):
        f0 = np.exp(rng.uniform(np.log(150.0), np.log(900.0)))
        out[start:stop] += _note(f0, stop - start, sr, rng, _random_timbre(rng, 'bowed'))
    return out


_SYNTHS: tp.Dict[str, tp.Callable[[int, int, np.random.Generator], np.ndarray]] = {
    'mixture': _mixture,
    'melody': lambda n, sr, rng: _melody(n, sr, rng),
    'drums': lambda n, sr, rng: _drums(n, sr, rng),
    'chirp_linear': lambda n, sr, rng: _chirp(n, sr, rng, 'linear'),
    'pluck': _pluck,
    'noise': _noise_bursts,
    'bowed': _bowed,
    'chirp_exp': lambda n, sr, rng: _chirp(n, sr, rng, 'exponential'),
}
assert set(_SYNTHS) == set(KINDS)


def high_band_fraction(x: tp.Union[np.ndarray, torch.Tensor], sample_rate: int,
                       split: float = SPLIT_FREQUENCY) -> float:
    """Share of the energy of `x` (shape `[T]` or `[C, T]`) at frequencies at or above `split` Hz."""
    array = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    power = np.abs(np.fft.rfft(array.astype(np.float64), axis=-1)) ** 2
    freqs = np.fft.rfftfreq(array.shape[-1], 1.0 / sample_rate)
    total = power.sum()
    return float(power[..., freqs >= split].sum() / total) if total > 0 else 0.0


def _balance_bands(x: np.ndarray, sr: int) -> np.ndarray:
    """Bring the share of energy above 8 kHz into [MIN_HIGH_FRACTION, MAX_HIGH_FRACTION] with a smooth shelf."""
    fraction = high_band_fraction(x, sr)
    if MIN_HIGH_FRACTION <= fraction <= MAX_HIGH_FRACTION:
        return x
    target = 1.5 * MIN_HIGH_FRACTION if fraction < MIN_HIGH_FRACTION else 0.9 * MAX_HIGH_FRACTION
    assert 0.0 < fraction < 1.0, "a synthesized clip has all its energy on one side of 8 kHz"
    gain = np.sqrt(target * (1.0 - fraction) / ((1.0 - target) * fraction))
    low, high = SPLIT_FREQUENCY - 400.0, SPLIT_FREQUENCY + 400.0
    return _shape_spectrum(x, sr, lambda f: 1.0 + (gain - 1.0) * _smoothstep(f, low, high))


def clip_length(duration: float, sample_rate: int) -> int:
    """Samples in a clip of `duration` seconds at `sample_rate` Hz, once both are checked usable for synthesis.

    Raises:
        ValueError: `sample_rate` is not an integer of at least `MIN_SAMPLE_RATE`, or the clip is shorter
            than 0.1 s.
    """
    if isinstance(sample_rate, bool) or int(sample_rate) != sample_rate or sample_rate < MIN_SAMPLE_RATE:
        raise ValueError(f"The sample rate must be an integer of at least {MIN_SAMPLE_RATE} Hz so that clips can "
                         f"hold content up to 16 kHz, got {sample_rate!r}.")
    n = int(round(duration * sample_rate)) if duration > 0 else 0
    if n < int(0.1 * sample_rate):
        raise ValueError(f"The clip duration must be at least 0.1 s, got {duration!r}.")
    return n


def synth_clip(kind: str, duration: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Synthesize one mono clip of the given kind.

    Args:
        kind (str): One of `KINDS`: 'mixture', 'melody', 'drums', 'chirp_linear', 'pluck', 'noise', 'bowed',
            'chirp_exp'.
        duration (float): Length in seconds.
        sample_rate (int): Sample rate in Hz, at least 32000 (the clips have content up to ~15 kHz).
        rng (np.random.Generator): Source of randomness; the clip is a deterministic function of its state.
    Returns:
        np.ndarray: float32 samples, shape `[round(duration * sample_rate)]`, peak between -3 and -1 dBFS,
        with 3 % to 90 % of the energy above 8 kHz.
    """
    if kind not in _SYNTHS:
        raise ValueError(f"Unknown clip kind {kind!r}; choose one of {', '.join(KINDS)}.")
    n = clip_length(duration, sample_rate)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator (np.random.default_rng(seed)), got {type(rng).__name__}.")
    sample_rate = int(sample_rate)
    x = _SYNTHS[kind](n, sample_rate, rng)
    x = _fades(_balance_bands(x, sample_rate), sample_rate)
    peak_db = rng.uniform(-3.0, -1.0)
    x = x * (10.0 ** (peak_db / 20.0) / (np.abs(x).max() + 1e-12))
    return x.astype(np.float32)


def demo_signal(duration: float = 2.0, sample_rate: int = 32000) -> torch.Tensor:
    """One fixed music-like mixture (melody, bass and drums) for demos, shape `[1, T]`, float32."""
    clip = synth_clip('mixture', duration, sample_rate, np.random.default_rng(_DEMO_SEED))
    return torch.from_numpy(clip)[None]
