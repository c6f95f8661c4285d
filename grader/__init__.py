"""grader: the lab checks, the notebook-side API and grading for the CI/CD Lab Kit."""

from grader.lab import Lab

__version__ = "0.1.0"
__all__ = ["Lab", "__version__"]
