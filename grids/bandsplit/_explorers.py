"""Tables shown by `dora grid bandsplit.*`: phase reached and key valid / evaluate metrics of every XP."""

from dora import Explorer
import treetable as tt


class BandSplitExplorer(Explorer):
    """Explorer of band-split codec grids, in the spirit of audiocraft's compression explorer."""
    eval_metrics = ['mel_distance', 'si_sdr', 'mel_distance_low', 'si_sdr_low', 'visqol']

    def stages(self):
        return ['train', 'valid', 'evaluate']

    def get_grid_meta(self):
        return [tt.leaf('index', align='>'), tt.leaf('name', wrap=140), tt.leaf('state'), tt.leaf('sig', align='>')]

    def get_grid_metrics(self):
        return [
            tt.group('train', [tt.leaf('epoch'), tt.leaf('phase', '.0f'), tt.leaf('bandwidth', '.2f')], align='>'),
            tt.group('valid', [tt.leaf('mel_low', '.3f'), tt.leaf('sisnr_low', '.2f'),
                               tt.leaf('mel_high', '.3f'), tt.leaf('sisnr_high', '.2f')], align='>'),
            tt.group('evaluate', [tt.leaf(name, '.3f') for name in self.eval_metrics], align='>'),
        ]

    def process_history(self, history):
        parts = {'train': {'epoch': len(history)}}
        for metrics in history:
            for stage, values in metrics.items():
                parts.setdefault(stage, {}).update(values)
        return parts
