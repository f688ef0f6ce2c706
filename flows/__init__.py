"""tabgate wiring: the Prefect flows, deployments and the command line over the steps in tasks/."""

from tasks.core.environment import apply_environment_defaults

apply_environment_defaults()  # before any flows module imports Prefect, Great Expectations or matplotlib
