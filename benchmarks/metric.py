"""The raw metric per workload and environment (asv: ``metric.<workload>.track_median``).

One class per workload, so that each graph carries its workload's unit (events/s, MiB/s,
...); the value is the median over the measured blocks, warmups left out, as ``bench run``
prints it. A step in the native line as well as in the container line points at the host
(kernel, CPU, other load), not at the container. asv takes lower as better, which is the
wrong way round for rates, so regressions are looked for in
``overhead.track_relative_cost`` only (asv.conf.json).
"""

from benchmarks.measure import ALL_WORKLOADS, VARIANTS, VERSION, measure, skip_unselected, value


class _Metric:
    setup_cache = staticmethod(measure)
    param_names = ("workload", "variant")
    version = VERSION

    def setup(self, measured, workload, variant):
        skip_unselected(measured, workload, variant)

    def track_median(self, measured, workload, variant):
        return value(measured, "median", workload, variant)


for _workload in ALL_WORKLOADS:
    _name = _workload.name.replace(".", "_").replace("-", "_")
    globals()[_name] = type(_name, (_Metric,), {
        "params": [[_workload.name], VARIANTS],
        "unit": _workload.metric.unit,
        "__doc__": f"{_workload.name}: {_workload.metric.name} ({_workload.metric.better} "
                   "is better)",
    })
