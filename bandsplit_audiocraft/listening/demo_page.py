"""The demo page (`index.html`): per clip, the reference and every model output with a player, a spectrogram and
the clip's metrics, rendered from the catalogue of `pages.make_pages` as plain HTML (no script)."""

from html import escape
import typing as tp


def _metrics_cell(stimulus: dict[str, tp.Any], definitions: dict[str, dict]) -> str:
    if not stimulus['metrics']:
        return '<td class="metrics">&mdash;</td>'
    rows = ''.join(f"<li>{escape(definitions[name]['label'])} {'↑' if definitions[name]['higher_is_better'] else '↓'}"
                   f": <b>{value:.3f}</b></li>" if value is not None else
                   f"<li>{escape(definitions[name]['label'])}: n/a</li>"
                   for name, value in stimulus['metrics'].items())
    return f'<td class="metrics"><ul>{rows}</ul></td>'


def _stimulus_row(stimulus: dict[str, tp.Any], definitions: dict[str, dict]) -> str:
    image = (f'<img src="{escape(stimulus["spectrogram"])}" alt="spectrogram of {escape(stimulus["label"])}">'
             if stimulus['spectrogram'] else '')
    gain = '' if stimulus['gain_db'] is None else f"<br><small>gain {stimulus['gain_db']:+.1f} dB</small>"
    return (f'<tr class="{escape(stimulus["kind"])}"><th scope="row">{escape(stimulus["label"])}{gain}</th>'
            f'<td><audio controls preload="auto" src="{escape(stimulus["audio"])}"></audio></td>'
            f'<td>{image}</td>{_metrics_cell(stimulus, definitions)}</tr>')


def _models_table(models: dict[str, dict]) -> str:
    rows = []
    for name, info in models.items():
        rates = info.get('branch_rates', [info['sample_rate']])
        rows.append(f"<tr><th scope=\"row\">{escape(name)}</th><td>{escape(info['class'])}</td>"
                    f"<td>{', '.join(f'{rate / 1000:g}' for rate in rates)}</td>"
                    f"<td>{info['bandwidth_kbps']:.2f}</td><td>{'yes' if info['band_split'] else 'no'}</td></tr>")
    return ('<table class="models"><thead><tr><th>Model</th><th>Class</th><th>Rates (kHz)</th><th>kbps</th>'
            f'<th>Band split</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def render_demo(catalogue: dict[str, tp.Any]) -> str:
    """The HTML of the demo page. Anchors are left out (they belong to the MUSHRA test)."""
    sections = []
    for clip in catalogue['clips']:
        rows = ''.join(_stimulus_row(s, catalogue['metrics']) for s in clip['stimuli'] if s['kind'] != 'anchor')
        sections.append(f'<section class="clip" id="{escape(clip["folder"])}"><h2>{escape(clip["name"])} '
                        f'<small>({clip["duration"]:.2f} s)</small></h2><table class="stimuli"><thead><tr>'
                        f'<th>Signal</th><th>Listen</th><th>Spectrogram</th><th>Metrics of this clip</th></tr>'
                        f'</thead><tbody>{rows}</tbody></table></section>')
    title = escape(catalogue['title'])
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}: demo</title>
<link rel="stylesheet" href="assets/style.css">
</head>
<body>
<h1>{title}: demo</h1>
<p>Every signal is loudness-matched to {catalogue['loudness_lufs']:g} LUFS (ITU-R BS.1770). A band-split model
is heard at its full rate and through its low branch alone (its lower-rate stream); the reference is given at
each rate. Metrics compare each output with the reference at its rate. <a href="mushra.html">Take the MUSHRA
listening test</a>.</p>
{_models_table(catalogue['models'])}
{''.join(sections)}
<footer><small>Test {escape(catalogue['test'])}, made {escape(catalogue['date'])}.</small></footer>
</body>
</html>
"""
