import pytest

from bandsplit_audiocraft.solvers.schedule import Schedule

CASCADE = {'regime': 'cascade', 'unit': 'epochs', 'branch_phase': 2, 'joint_phase': 1, 'joint_lr': 5e-5}


def test_cascade_phases_in_epochs():
    s = Schedule.from_config(CASCADE, ['low', 'high'], updates_per_epoch=10, lr=1e-4)
    assert [(p.name, p.start, p.end, p.trained, p.lr) for p in s.phases] == [
        ('low', 0, 20, (0,), 1e-4), ('high', 20, 40, (1,), 1e-4), ('joint', 40, 50, (0, 1), 5e-5)]
    assert s.total_epochs == 5 and s.total_updates == 50
    assert [s.phase_at(u).name for u in (0, 19, 20, 39, 40, 49, 50, 1000)] == \
        ['low', 'low', 'high', 'high', 'joint', 'joint', 'joint', 'joint']
    assert [s.phase_of_epoch(e).name for e in range(1, 6)] == ['low', 'low', 'high', 'high', 'joint']
    assert s.phases[1].num_branches == 2 and not s.phases[1].averaged and s.phases[2].averaged


def test_cascade_in_updates_may_switch_mid_epoch():
    s = Schedule.from_config({**CASCADE, 'unit': 'updates', 'branch_phase': 7, 'joint_phase': 3}, ['a', 'b', 'c'],
                             updates_per_epoch=5, lr=1e-3)
    assert [(p.name, p.start, p.end) for p in s.phases] == [('a', 0, 7), ('b', 7, 14), ('c', 14, 21),
                                                            ('joint', 21, 24)]
    assert s.total_epochs == 5
    assert s.phase_at(6).trained == (0,) and s.phase_at(7).trained == (1,) and s.phase_at(14).num_branches == 3


def test_joint_regime_and_single_branch():
    s = Schedule.from_config({**CASCADE, 'regime': 'joint', 'joint_phase': 4}, ['low', 'high'], 10, 1e-4)
    assert [(p.name, p.trained, p.lr) for p in s.phases] == [('joint', (0, 1), 1e-4)]
    s = Schedule.from_config(CASCADE, ['full'], 10, 1e-4)
    assert [(p.name, p.trained, p.end) for p in s.phases] == [('joint', (0,), 10)]


@pytest.mark.parametrize('cfg,match', [
    ({**CASCADE, 'regime': 'stacked'}, 'regime'),
    ({**CASCADE, 'unit': 'steps'}, 'unit'),
    ({**CASCADE, 'branch_phase': -1}, 'branch_phase'),
    ({**CASCADE, 'branch_phase': 0, 'joint_phase': 0}, 'empty'),
])
def test_bad_schedules(cfg, match):
    with pytest.raises(ValueError, match=match):
        Schedule.from_config(cfg, ['low', 'high'], 10, 1e-4)
