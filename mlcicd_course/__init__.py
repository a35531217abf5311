"""Companion package of the course "CI/CD for Machine Learning".

Each module has one job; the notebooks import what they teach, and the `mlcicd`
command line exposes the same functions to scripts and GitHub Actions workflows.
"""

__version__ = "0.1.0"
KERNEL_NAME = "mlcicd-course"
