"""nbgrader settings of the CI/CD Lab Kit: instructor notebooks in solutions/, learner notebooks in labs/.

nbgrader wants one folder per assignment (``<step>/<student>/<assignment>/<notebook>.ipynb``)
while the kit keeps its labs flat (``solutions/01_repo_setup.ipynb``). So ``grader release`` and
``grader autograde`` stage each lab as an assignment of its own name in a scratch course
directory that uses these settings, then copy the result back: use them rather than calling
``nbgrader generate_assignment`` in this folder.
"""

c = get_config()  # noqa: F821 - nbgrader provides get_config when it loads this file

c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "labs"

# What a learner finds in place of a solution region.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Grading: a deleted test cell comes back and is graded; a cell that runs too long stops alone.
c.OverwriteCells.add_missing_cells = True
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True
