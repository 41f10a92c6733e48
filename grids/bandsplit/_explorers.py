"""Tables shown by `dora grid bandsplit.*`, and the SLURM settings shared by the band-split grids.

Per XP the table shows, like audiocraft's compression explorer, the training progress (epochs done out of
the schedule's, the phase reached, the bandwidth) and the last `valid` and `evaluate` metrics the solver
logged (`history.json`): per branch in `valid` (mel loss and SI-SNR of each branch's reconstruction at its
rate), on the full-band output and on the low branch in `evaluate` (mel distance, SI-SDR, ViSQOL when it
is in `evaluate.metric_names`). A metric an XP does not log (a branch it lacks, a stage not reached yet) is
left blank.
"""

import typing as tp

from dora import Explorer
import treetable as tt

from bandsplit_audiocraft.solvers.schedule import Schedule

# (column, history key, format) of the valid and evaluate groups.
VALID_METRICS = [('mel_low', 'mel_low', '.3f'), ('sisnr_low', 'sisnr_low', '.2f'),
                 ('mel_high', 'mel_high', '.3f'), ('sisnr_high', 'sisnr_high', '.2f')]
EVALUATE_METRICS = [('mel', 'mel_distance', '.3f'), ('si_sdr', 'si_sdr', '.2f'), ('visqol', 'visqol', '.2f'),
                    ('mel_low', 'mel_distance_low', '.3f'), ('si_sdr_low', 'si_sdr_low', '.2f')]


def use_cluster_partition(launcher) -> None:
    """Set the SLURM partition of `launcher`'s jobs.

    `slurm.partition` of the config (or `dora grid -p`) if set, else the partitions of audiocraft's cluster
    config (`AUDIOCRAFT_CONFIG`, `AUDIOCRAFT_TEAM`, `AUDIOCRAFT_CLUSTER`), else none at all: the cluster's
    default partition (sbatch rejects an empty `--partition`). An empty `slurm.exclude` is dropped likewise.
    """
    slurm = launcher._slurm  # the launcher's current SLURM config (config + command line)
    partition = slurm.partition
    if not partition:
        from audiocraft.environment import AudioCraftEnvironment
        try:
            listed = AudioCraftEnvironment.get_slurm_partitions(['team', 'global'])
        except (KeyError, AttributeError):  # no entry for this cluster in the teams config
            listed = ''
        partition = ','.join(p for p in listed.split(',') if p)
    launcher.slurm_(partition=partition or None, exclude=slurm.exclude or None)


class BandSplitExplorer(Explorer):
    """Explorer of band-split codec grids, in the spirit of audiocraft's compression explorer."""

    def stages(self):
        return ['train', 'valid', 'evaluate']

    def get_grid_meta(self):
        return [tt.leaf('index', align='>'), tt.leaf('name', wrap=140), tt.leaf('state'), tt.leaf('sig', align='>'),
                tt.leaf('sid', align='>')]

    def get_grid_metrics(self):
        return [
            tt.group('train', [tt.leaf('epoch'), tt.leaf('phase'), tt.leaf('bandwidth', '.2f')], align='>'),
            tt.group('valid', [tt.leaf(column, fmt) for column, _, fmt in VALID_METRICS], align='>'),
            tt.group('evaluate', [tt.leaf(column, fmt) for column, _, fmt in EVALUATE_METRICS], align='>'),
        ]

    def process_history(self, history: tp.List[dict]) -> dict:
        """Last logged value of every metric of the table; `epoch` and `phase` from the last train stage."""
        last: tp.Dict[str, dict] = {}
        for metrics in history:
            for stage, values in metrics.items():
                last.setdefault(stage, {}).update(values)
        train = last.get('train', {})
        parts: tp.Dict[str, dict] = {'train': {'epoch': len(history)}}
        if 'phase' in train:
            parts['train']['phase'] = int(train['phase'])
        if 'bandwidth' in train:
            parts['train']['bandwidth'] = train['bandwidth']
        for stage, columns in [('valid', VALID_METRICS), ('evaluate', EVALUATE_METRICS)]:
            values = last.get(stage, {})
            parts[stage] = {column: values[key] for column, key, _ in columns if key in values}
        return parts

    def process_sheep(self, sheep, history: tp.List[dict]) -> dict:
        """`process_history`, with the phase by name and the epochs out of the schedule's total."""
        parts = self.process_history(history)
        train = parts['train']
        try:
            schedule = Schedule.from_experiment(sheep.xp.cfg)
        except Exception:  # an XP whose config the current code rejects: show the raw numbers
            return parts
        names = [p.name for p in schedule.phases]
        train['epoch'] = f"{len(history)}/{schedule.total_epochs}"
        if 'phase' in train and 0 <= train['phase'] < len(names):
            train['phase'] = names[train['phase']]
        return parts
