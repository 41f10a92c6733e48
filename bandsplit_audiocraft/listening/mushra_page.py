"""The MUSHRA test page (`mushra.html`): the page's markup with the test's configuration embedded as JSON; the
behaviour is in `static/mushra.js` (plain JavaScript, no network access, works from `file://`).

The page follows ITU-R BS.1534-3: an open reference, the hidden reference and the anchors among the conditions,
0-100 sliders on the five-interval quality scale, conditions and trials in a random order per listener.
"""

from html import escape
import json
import typing as tp

SCALE: tuple[tuple[str, int, int], ...] = (('Excellent', 80, 100), ('Good', 60, 80), ('Fair', 40, 60),
                                          ('Poor', 20, 40), ('Bad', 0, 20))
"""The labels of the continuous quality scale, top first, with their intervals."""

RESULTS_FORMAT = 'bandsplit-mushra-results'


def page_config(catalogue: dict[str, tp.Any]) -> dict[str, tp.Any]:
    """What the page script needs: the test id, the trials and the scale."""
    return {'format': RESULTS_FORMAT, 'test': catalogue['test'], 'title': catalogue['title'],
            'trials': catalogue['trials'], 'scale': [{'label': label, 'low': low, 'high': high}
                                                     for label, low, high in SCALE]}


def render_mushra(catalogue: dict[str, tp.Any]) -> str:
    """The HTML of the MUSHRA page."""
    config = json.dumps(page_config(catalogue)).replace('</', '<\\/')
    title = escape(catalogue['title'])
    scale = ''.join(f'<li style="flex-grow: {high - low}">{label}</li>' for label, low, high in SCALE)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}: MUSHRA</title>
<link rel="stylesheet" href="assets/style.css">
</head>
<body class="mushra">
<h1>{title}</h1>
<section id="welcome">
<p>In each of the {len(catalogue['trials'])} trials you hear a <b>reference</b> and several versions of it,
labelled with letters in a random order. One of them is the reference itself, hidden among the others. Rate how
close each version is to the reference on the scale from 0 (bad) to 100 (excellent). Switch between versions
while listening: playback continues at the same position. Use headphones in a quiet room, and set the volume once,
on the first trial.</p>
<p><label>Listener id <input id="listener" autocomplete="off"></label>
<button id="start" type="button">Start</button> <span id="welcome-message" class="message"></span></p>
</section>
<section id="trial" hidden>
<h2 id="trial-title"></h2>
<div class="transport">
<button id="stop" type="button">Stop</button>
<input id="position" type="range" min="0" max="1" step="0.01" value="0" aria-label="position">
<span id="time">0.00 s</span>
<label><input id="loop" type="checkbox" checked> loop from</label>
<input id="loop-start" type="number" min="0" step="0.1" value="0"> s to
<input id="loop-end" type="number" min="0" step="0.1" value="0"> s
<button id="set-start" type="button">Start here</button>
<button id="set-end" type="button">End here</button>
</div>
<div class="board">
<ol class="scale">{scale}</ol>
<div id="conditions"></div>
</div>
<p><button id="previous" type="button">Previous</button> <button id="next" type="button">Next</button>
<span id="trial-message" class="message"></span></p>
</section>
<section id="done" hidden>
<p>Thank you. Save your results and send the file to the experimenter.</p>
<p><button id="save" type="button">Save results</button> <span id="status"></span></p>
</section>
<div id="players" hidden></div>
<script>window.MUSHRA_CONFIG = {config};</script>
<script src="assets/mushra.js"></script>
</body>
</html>
"""
