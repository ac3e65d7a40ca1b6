"""Detection quality on labelled windows and the blocking gates built on it."""
