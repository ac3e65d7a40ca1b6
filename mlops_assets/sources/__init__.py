"""Where raw logs come from: the LogSource interface and its implementations (directory, SSH)."""
