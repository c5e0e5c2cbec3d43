"""Configuration: the one place that reads the environment and the partners file."""
