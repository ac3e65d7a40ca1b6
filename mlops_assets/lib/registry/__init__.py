"""MLflow registry (champion/previous aliases, promotion, rollback) and the servable pyfunc."""
