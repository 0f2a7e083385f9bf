"""Whether the machine's load changed during a time budget: the judgement on fabricated readings."""

from rnnbench.execution.budget_load import BudgetLoad, judge
from rnnbench.execution.load import LoadDuring


def part(others_cpu_s, wall_s=5.0, cores=2):
    return LoadDuring(wall_s=wall_s, own_cpu_s=wall_s, others_cpu_s=others_cpu_s, cores=cores,
                      load_average_1min_end=None)


def test_a_steady_load_is_not_a_change():
    reading = judge([part(0.5), part(0.6), part(0.4), part(0.5)], threads=1)
    assert reading.changed is False and reading.sentence.startswith("steady")
    assert reading.others_cpus == (0.1, 0.12, 0.08, 0.1)


def test_other_work_appearing_mid_budget_is_a_change():
    reading = judge([part(0.5), part(0.5), part(6.0), part(7.5)], threads=1)  # 0.1 -> 1.5 CPUs
    assert reading.changed is True and "0.10, 0.10, 1.20, 1.50" in reading.sentence
    assert "not at equal compute" in reading.sentence


def test_being_short_of_cpus_in_some_parts_only_is_a_change():
    # 2 cores, 2 threads: 0.2 CPUs of others leaves room (2.2 <= 2.25); 0.4 does not, though they differ by 0.2
    reading = judge([part(1.0), part(2.0)], threads=2)
    assert reading.changed is True


def test_too_short_or_unreadable_is_said_not_guessed():
    assert judge([part(0.5)], threads=1).changed is None
    unreadable = judge([part(None), part(None)], threads=1)
    assert unreadable.changed is None and "not measured" in unreadable.sentence


def test_the_budget_is_read_in_parts_of_at_least_a_second():
    tracker = BudgetLoad(budget_s=20.0, threads=1)
    for elapsed in (1.0, 5.0, 9.9, 10.0, 15.0, 19.0, 20.0):
        tracker.tick(elapsed)
    assert tracker.bounds == [5.0, 10.0, 15.0] and len(tracker.snapshots) == 4  # start + 3 boundaries
    assert len(tracker.finish().others_cpus) == 4
    assert BudgetLoad(budget_s=2.5, threads=1).bounds == [1.25]  # two parts
    assert BudgetLoad(budget_s=0.5, threads=1).bounds == []  # one part: no judgement
