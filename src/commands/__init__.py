"""CLI commands apart from running a job: ``crm init`` (:mod:`.init_job` with the loading,
planning and YAML writing of a new job: :mod:`.init_load`, :mod:`.init_plan`,
:mod:`.init_yaml`), ``crm kpis`` (:mod:`.kpi_report`) and ``crm schedule`` (:mod:`.schedule`).
They use the runner's records (``src.runner.history``); the runner imports none of them.
"""
