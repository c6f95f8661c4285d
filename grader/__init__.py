"""grader: the lab checks, the notebook-side API and grading for the CI/CD Lab Kit."""

__version__ = "0.1.0"
