"""Where the gate's results go besides its own output folder (MLflow: ``mlflow_log.py``)."""
