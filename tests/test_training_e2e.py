"""End to end: real `dora run` processes on the embedded corpus, killed and resumed, exported and reloaded."""
import json
from pathlib import Path
import time
import typing as tp

import pytest
import torch

from bandsplit_audiocraft.utils.dora import DoraRunError, experiment_folder, kill, run_all
from tests.helpers import dora_run, finish, single_xp

pytestmark = pytest.mark.slow


def history(xp: Path) -> tp.List[dict]:
    return json.loads((xp / 'history.json').read_text())


def test_full_cascade_trains_exports_and_loads(tmp_path, corpus_dir):
    from audiocraft.models import CompressionModel

    from bandsplit_audiocraft.configs import model_config
    from bandsplit_audiocraft.data.audio_io import read_audio
    from bandsplit_audiocraft.evaluation.metrics import mel_distance, si_sdr
    from bandsplit_audiocraft.export import main as export_main
    from bandsplit_audiocraft.models import BandSplitCompressionModel, get_bandsplit_model

    overrides = ['solver=bandsplit_codec/tiny', f'corpus_dir={corpus_dir}']
    finish(dora_run(tmp_path / 'dora', overrides), timeout=2400)
    xp = single_xp(tmp_path / 'dora')
    assert experiment_folder(overrides, tmp_path / 'dora') == xp
    hist = history(xp)
    assert [int(h['train']['phase']) for h in hist] == [0, 0, 1, 1, 2, 2]
    assert 'evaluate' in hist[-1] and 'si_sdr_low' in hist[-1]['evaluate']
    samples = sorted(p.name for p in (xp / 'samples').rglob('*.wav'))
    assert any(name.endswith('_low.wav') for name in samples) and any(n.endswith('_output.wav') for n in samples)

    out = tmp_path / 'exported.th'
    assert export_main([str(xp), str(out)]) == 0
    model = CompressionModel.get_pretrained(str(out))
    assert isinstance(model, BandSplitCompressionModel) and model.bandwidth == 4.0

    # Training learns: the trained codec is clearly better than the same codec at initialisation.
    torch.manual_seed(0)
    fresh = get_bandsplit_model(model_config()).eval()
    clips = sorted((corpus_dir / 'evaluate').glob('*.wav'))
    x = torch.stack([read_audio(c)[0] for c in clips])
    with torch.no_grad():
        fresh(x)  # k-means initialisation of the fresh codebooks, as training starts with
        scores = {}
        for name, m in [('trained', model), ('init', fresh)]:
            y = m(x).x
            scores[name] = (float(mel_distance(y, x, 32000).mean()), float(si_sdr(y, x, 32000).mean()))
    print('mel distance / SI-SDR, trained vs init:', scores)
    (tmp_path / 'learning.json').write_text(json.dumps(scores))
    # The tiny codec after its short CPU training: the waveform is far from right, but it has clearly moved
    # from chance level (the SI-SDR of the initial codec) and the mel distance has dropped.
    assert scores['trained'][0] < scores['init'][0]
    assert scores['trained'][1] > scores['init'][1] + 10


def test_killed_run_resumes_in_its_phase(tmp_path, corpus_dir):
    from bandsplit_audiocraft.utils.checkpoints import load_training_checkpoint

    upe = 12
    overrides = ['solver=bandsplit_codec/tiny', f'corpus_dir={corpus_dir}', 'cascade.branch_phase=2',
                 'cascade.joint_phase=1', f'optim.updates_per_epoch={upe}', f'dataset.train.num_samples={8 * upe}']
    dora_dir = tmp_path / 'dora'
    proc = dora_run(dora_dir, overrides)
    deadline = time.time() + 600
    first: tp.Optional[Path] = None
    while time.time() < deadline and proc.poll() is None:
        found = list((dora_dir / 'xps').glob('*/checkpoint_1.th')) if (dora_dir / 'xps').exists() else []
        if found:
            first = found[0]
            break
        time.sleep(0.05)
    assert first is not None, "the first epoch never finished"
    time.sleep(0.5)  # into epoch 2, still in the `low` phase (2 epochs long)
    kill(proc)
    xp = first.parent
    state = load_training_checkpoint(xp / 'checkpoint.th')
    saved = state['phase_state']
    epochs_done = len(state['history'])
    assert 1 <= epochs_done < 5 and saved['update'] == upe * epochs_done, saved
    assert saved['phase'] == ('low' if epochs_done <= 2 else 'high'), saved
    resume_phase = 'low' if epochs_done < 2 else ('high' if epochs_done < 4 else 'joint')

    finish(dora_run(dora_dir, overrides), timeout=1200)
    assert single_xp(dora_dir) == xp
    log = (xp / 'solver.log.0').read_text()
    assert f"Resuming in phase '{resume_phase}' after update {saved['update']}" in log
    assert [int(h['train']['phase']) for h in history(xp)] == [0, 0, 1, 1, 2]


def test_failed_runs_are_reported_once_all_have_ended(tmp_path):
    runs = {'wrong_solver': ['solver=bandsplit_codec/no_such_recipe'], 'wrong_key': ['no_such_key=1']}
    logs = {name: tmp_path / f'{name}.log' for name in runs}
    with pytest.raises(DoraRunError) as error:
        run_all(runs, 2, dora_dir=tmp_path / 'dora', logs=logs, poll=0.2)
    message = str(error.value)
    assert 'wrong_solver:' in message and 'wrong_key:' in message and str(logs['wrong_key']) in message
    assert all(log.is_file() for log in logs.values())
    with pytest.raises(ValueError, match='jobs must be at least 1'):
        run_all(runs, 0)


def test_a_run_past_its_time_limit_is_killed(tmp_path):
    log = tmp_path / 'slow.log'
    began = time.time()
    with pytest.raises(DoraRunError, match=f"slow: killed after 2 s, its time limit; its log: {log}"):
        run_all({'slow': ['solver=bandsplit_codec/tiny']}, 1, dora_dir=tmp_path / 'dora', logs={'slow': log},
                poll=0.2, timeout=2)
    assert time.time() - began < 10
