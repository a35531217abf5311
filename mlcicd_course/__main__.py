"""`python -m mlcicd_course` runs the `mlcicd` command line."""

import sys

from mlcicd_course.cli import main

sys.exit(main())
