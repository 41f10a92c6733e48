"""The paper's claims, each tested on the per-clip values of an evaluation report (`evaluation.report`'s JSON):
a paired per-clip difference with its bootstrap interval and a verdict (`statistics.paired_difference`)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import typing as tp

from .plan import BOOTSTRAP_RESAMPLES

VERDICTS = ('held', 'not held', 'inconclusive')

# ---- claims ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """One claim of the paper about one model, tested on every measure it names.

    Attributes:
        group: Letter of the claim (`CLAIM_GROUPS`).
        kind: 'point': `model` better than `other` on every scored metric at an operating point; 'bands': the high
            branch's SDR (against its residual target) higher in the top band than in the band below (band
            analysis); 'inpainting': the band-split output better than plain upsampling of the low branch on
            band-limited input (inpainting analysis).
        model: The model the claim is about.
        other: The model it is compared with ('point').
        point: 'full' (the model's output rate) or 'low' (its low branch's rate, the 16 kHz stream).
    """
    group: str
    kind: str
    model: str
    other: str | None = None
    point: str = 'full'


CLAIM_GROUPS: dict[str, str] = {
    'a': "At the full rate and bitrate, the band-split codec is better than single-branch codecs",
    'b': "The band-split codec's low-band stream alone is better than single-branch codecs at its rate and bitrate",
    'c': "The high branch codes the upper band better than the lower band (band analysis)",
    'd': "On band-limited input, the high branch's invented upper band beats plain upsampling (toy inpainting)",
    'e': "Cascade training is better than joint training",
}
CLAIMS: tuple[Claim, ...] = (
    Claim('a', 'point', 'bandsplit', 'dac_32k'),
    Claim('a', 'point', 'bandsplit', 'seanet_32k'),
    Claim('a', 'point', 'bandsplit', 'seanet_32k_params'),
    Claim('a', 'point', 'bandsplit_dac', 'dac_32k_dac_recipe'),
    Claim('b', 'point', 'bandsplit', 'seanet_16k', 'low'),
    Claim('b', 'point', 'bandsplit', 'dac_16k', 'low'),
    Claim('b', 'point', 'bandsplit_dac', 'dac_16k_dac_recipe', 'low'),
    Claim('c', 'bands', 'bandsplit'),
    Claim('c', 'bands', 'bandsplit_dac'),
    Claim('d', 'inpainting', 'bandsplit'),
    Claim('d', 'inpainting', 'bandsplit_dac'),
    Claim('e', 'point', 'bandsplit', 'bandsplit_joint'),
)


def _khz(rate: float) -> str:
    return f"{rate / 1000:g}"


def _statement(claim: Claim, models: Mapping[str, Mapping]) -> str:
    """The claim in words, with the operating point read from the report (`models`: its `models` entries)."""
    if claim.kind == 'bands':
        return f"{claim.model}: high-branch SDR higher in the top band than below it"
    if claim.kind == 'inpainting':
        return f"{claim.model}: band-split output better than plain upsampling on band-limited input"
    entry = models.get(claim.model)
    if entry is None:
        return f"{claim.model} better than {claim.other} ({claim.point} rate)"
    rate = _point_rate(claim, entry)
    point = entry['operating_points'].get(str(rate), {})
    kbps = f" / {point['bandwidth_kbps']:g} kbps" if 'bandwidth_kbps' in point else ""
    return f"{claim.model} better than {claim.other} at {_khz(rate)} kHz{kbps}"


def _point_rate(claim: Claim, entry: Mapping) -> int:
    info = entry['info']
    return int(info['branch_rates'][0]) if claim.point == 'low' and info.get('branch_rates') else \
        int(info['sample_rate'])


def _row(claim: Claim, statement: str, measure: str, label: str, higher_is_better: bool, difference: str,
         paired: Mapping, **extra: tp.Any) -> dict:
    return {'group': claim.group, 'statement': statement, 'kind': claim.kind, 'model': claim.model,
            'other': claim.other, **extra, 'measure': measure, 'label': label, 'higher_is_better': higher_is_better,
            'difference': difference, **paired}


def check_claim(claim: Claim, report: Mapping, resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[list[dict], str | None]:
    """The rows of one claim from a report's content (`report.json` of `evaluation.report`), one per measure, each
    with `statistics.paired_difference`'s mean, interval, n and verdict; or no row and the reason it cannot be
    tested (a model missing from the report, an analysis that does not apply)."""
    from ..evaluation.inpainting import DEFAULT_INPAINTING_METRICS
    from ..evaluation.metrics import METRICS
    from ..evaluation.sections import band_text
    from ..evaluation.statistics import paired_difference

    models = report['models']
    statement = _statement(claim, models)
    missing = [name for name in (claim.model, claim.other) if name is not None and name not in models]
    if missing:
        return [], f"{' and '.join(missing)} not scored in this run (see --models)"
    entry = models[claim.model]
    if claim.kind == 'point':
        rate = str(_point_rate(claim, entry))
        ours, theirs = entry['operating_points'].get(rate), models[claim.other]['operating_points'].get(rate)
        if ours is None or theirs is None:
            return [], f"{claim.model} and {claim.other} do not share the {_khz(int(rate))} kHz operating point"
        return [_row(claim, statement, metric, METRICS[metric].label, METRICS[metric].higher_is_better,
                     f"{claim.model} - {claim.other}",
                     paired_difference(ours['per_clip'][metric], theirs['per_clip'][metric],
                                       METRICS[metric].higher_is_better, resamples), operating_point=rate)
                for metric in report['metrics']], None
    if claim.kind == 'bands':
        section = entry['band_analysis']
        if not section.get('applicable') or len(section.get('bands', [])) < 2:
            return [], f"the band analysis does not apply to {claim.model}"
        lower, upper = section['bands'][-2:]
        sdr = section['per_clip']['high']['sdr']
        high = entry.get('signals', {}).get('high', 'high branch')
        label = f"SDR of {high} vs its residual target (dB), {band_text(upper)} minus {band_text(lower)}"
        return [_row(claim, statement, 'band_sdr', label, True, f"{band_text(upper)} - {band_text(lower)}",
                     paired_difference(sdr[upper], sdr[lower], True, resamples))], None
    if claim.kind == 'inpainting':
        section = entry['inpainting']
        if not section.get('applicable'):
            return [], f"the inpainting analysis does not apply to {claim.model}"
        systems = section['per_clip']['systems']
        rows = []
        for metric in DEFAULT_INPAINTING_METRICS:
            if metric in systems['band_split']:
                better = METRICS[metric].higher_is_better
                rows.append(_row(claim, statement, metric, METRICS[metric].label, better,
                                 "band_split - upsampled_low",
                                 paired_difference(systems['band_split'][metric], systems['upsampled_low'][metric],
                                                   better, resamples)))
        return rows, None
    raise ValueError(f"Unknown claim kind {claim.kind!r}.")


def assemble_claims(report: Mapping, claims: Sequence[Claim] = CLAIMS,
                    resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[list[dict], list[dict]]:
    """Every claim tested on a report's content: `(rows, not_tested)`, the rows of `check_claim` in the order of
    `claims`, and `{'group', 'statement', 'reason'}` for each claim that could not be tested."""
    rows, not_tested = [], []
    for claim in claims:
        tested, reason = check_claim(claim, report, resamples)
        rows += tested
        if reason is not None:
            not_tested.append({'group': claim.group, 'statement': _statement(claim, report['models']),
                               'reason': reason})
    return rows, not_tested
