"""Pure logic: parsing, templates, features, model, drift. Never imports dagster or defs/."""
