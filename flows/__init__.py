"""tabgate callers: Prefect flows and the command line, thin wrappers over tasks/."""
