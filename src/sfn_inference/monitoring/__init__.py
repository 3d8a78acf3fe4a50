"""Drift monitoring from the capture files, in SageMaker Model Monitor's formats (statistics.json,
constraints.json, constraint_violations.json), so it runs the same locally and on AWS."""
