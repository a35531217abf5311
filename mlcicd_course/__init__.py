"""Companion package of the course "CI/CD for Machine Learning".

Each module has one job; the notebooks import what they teach, and the `mlcicd`
command line exposes the same functions to scripts and GitHub Actions workflows.
"""

__version__ = "0.1.0"
KERNEL_NAME = "mlcicd-course"

#: One thread per numeric library, for processes that share the cores with others (graded
#: answers, test workers and what they start, notebook runs): OpenMP or BLAS threads spinning
#: beside them made scikit-learn up to 10x slower on 2 cores.
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                  "NUMEXPR_NUM_THREADS": "1"}
