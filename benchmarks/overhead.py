"""Container overhead per workload and variant, against the baseline (native).

``track_overhead`` is ``bench run``'s overhead estimate in percent, as the summary prints it
(+5 = the variant costs 5% more per unit of work, from the paired per-block log ratios).

``track_relative_cost`` is the same estimate as the variant's cost in percent of native's
(+5% -> 105). asv judges changes by ratio and takes lower as better (``asv compare``,
``asv continuous --factor``, the regressions of ``asv publish``), which is meaningless for
values around and below zero; on cost ratios ``--factor 1.02`` means "costs 2% more than
before", the equivalence margin, and asv's summary of several workloads (a geometric mean)
is the one METHOD.md prescribes.
"""

from benchmarks.measure import COMPARED, VERSION, WORKLOADS, measure, skip_unselected, value

setup_cache = measure
setup = skip_unselected


def track_overhead(measured, workload, variant):
    return value(measured, "overhead", workload, variant)


def track_relative_cost(measured, workload, variant):
    return round(100 + value(measured, "overhead", workload, variant), 3)


for _track, _unit in ((track_overhead, "%"), (track_relative_cost, "% of native")):
    _track.params = [WORKLOADS, COMPARED]
    _track.param_names = ["workload", "variant"]
    _track.unit = _unit
    _track.version = VERSION
