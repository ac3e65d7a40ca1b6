"""Learned detector: design matrix, IsolationForest with robust baselines, sustained evidence, calibration, scoring."""
