"""After release: the monitoring contract ``check`` writes (monitoring.json) and ``governance monitor``, which
judges windows of production logs against it (contract.py, window.py, state.py, judge.py, report.py, run.py)."""
