"""nbgrader, driven through its Python API: release a lab, autograde one submission of it.

nbgrader wants ``<step>/<student>/<assignment>/<notebook>.ipynb``; the kit keeps its labs flat.
Each call stages one lab as an assignment named after its notebook in a scratch course
directory configured by the kit's ``nbgrader_config.py``, runs nbgrader there and reads back
the notebook it wrote or the scores it recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from traitlets.config import Config, PyFileConfigLoader

from grader import notebooks

HIDDEN_TESTS = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*$", re.DOTALL | re.MULTILINE)
# Grading in place: set in the kernel's environment, it makes ``lab.catch_up()`` build nothing.
IN_PLACE = "LAB_GRADE_IN_PLACE"
SETUP_CELL = "setup"  # the grade id of each lab's first code cell: imports and ``lab = grader.Lab(N)``
SKIP = "skip-execution"  # the cell tag nbclient (hence nbgrader's Execute) passes over
# The cell type of a manually graded answer (a written reflection): nbgrader's "written" score.
# In a solution notebook: a markdown cell whose nbgrader metadata has grade, solution, points and a
# grade_id (say ``reflection_1``), holding a model answer; ``grader release`` leaves "YOUR ANSWER HERE".
WRITTEN = "markdown"


class GradingError(RuntimeError):
    """nbgrader could not do what was asked; the message holds its log."""


@dataclass(frozen=True)
class CellGrade:
    """The score of one graded cell."""

    name: str
    score: float
    max_score: float


@dataclass(frozen=True)
class Grade:
    """The autograded score of one notebook, with its graded cells.

    ``score``, ``max_score`` and ``cells`` count the autograded (code) cells only. A lab's written
    reflection questions are nbgrader *manually graded answer* cells (markdown cells with ``grade``
    and ``solution`` set; see :data:`WRITTEN`): autograding gives them nothing, the instructor
    scores them in the formgrader, and they are listed apart in ``written`` (each with its
    ``max_score``, its ``score`` 0 until graded by hand) so a solved notebook still has full marks.
    """

    notebook: str
    score: float
    max_score: float
    cells: tuple[CellGrade, ...]
    graded: Path  # the autograded copy, outputs included
    restored: tuple[str, ...] = ()  # cells nbgrader put back: a locked cell edited, a test cell deleted
    written: tuple[CellGrade, ...] = ()  # the manually graded answer cells, for the formgrader

    @property
    def full_marks(self) -> bool:
        """True when every autograded point was earned (written answers are graded by hand later)."""
        return self.score == self.max_score

    @property
    def written_max_score(self) -> float:
        """The points of the written answers, which an instructor awards in the formgrader."""
        return sum(c.max_score for c in self.written)

    def written_note(self) -> str:
        """`` (+N written points to grade by hand)``, or nothing when the lab has no written answers."""
        return f" (+{self.written_max_score:g} written points to grade by hand)" if self.written else ""


def course_config(root: Path) -> Config:
    """The kit's nbgrader settings for a course directory at ``root``."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(notebooks.ROOT)).load_config()
    config.CourseDirectory.root = str(root)
    config.Application.log_level = "WARN"
    return config


def _grading_config(root: Path, number: int, outside_kernel: bool, hidden: tuple[Path, ...]) -> Config:
    """The course settings for grading lab ``number``: nbgrader's autograde steps, with the kernel confined
    and made to survive its death (:class:`grader.kernels.ConfinedExecute`: the course directory and
    ``hidden`` out of its sight) and (``outside_kernel``) the graded cells scored by the grader itself
    (:class:`grader.scoring.ChecksOutsideKernel`) just before nbgrader saves the grades."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute, SaveAutoGrades

    from grader.kernels import ConfinedExecute
    from grader.scoring import ChecksOutsideKernel

    config = course_config(root)
    config.ConfinedKernelManager.hidden = [str(p) for p in (root, *hidden)]
    config.ConfinedKernelManager.lab = number
    steps = [ConfinedExecute if step is Execute else step for step in Autograde.autograde_preprocessors.default()]
    if outside_kernel:
        steps.insert(steps.index(SaveAutoGrades), ChecksOutsideKernel)
    config.Autograde.autograde_preprocessors = steps
    config.ChecksOutsideKernel.lab = number
    return config


def _api(config: Config) -> Any:
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def _succeeded(result: dict[str, Any], what: str) -> None:
    if not result.get("success"):
        raise GradingError(f"nbgrader could not {what}:\n{result.get('error') or ''}\n{result.get('log') or ''}".rstrip())


def _stage_source(root: Path, number: int) -> str:
    slug = notebooks.slug(number)
    folder = root / "solutions" / slug
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(notebooks.solution(number), folder / f"{slug}.ipynb")
    return slug


def release(number: int, dest: Path | None = None) -> Path:
    """Write the learner version of lab ``number`` (solutions and hidden tests removed) into ``dest``."""
    target_dir = dest or notebooks.LABS
    with tempfile.TemporaryDirectory(prefix="grader-release-") as tmp:
        root = Path(tmp)
        slug = _stage_source(root, number)
        config = course_config(root)
        config.GenerateAssignment.no_database = True
        config.SaveCells.enabled = False
        _succeeded(_api(config).generate_assignment(slug, force=True, create=False), f"release {slug}")
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / f"{slug}.ipynb"
        shutil.copyfile(root / "labs" / slug / f"{slug}.ipynb", target)
    return target


@contextlib.contextmanager
def _environ(env: dict[str, str] | None) -> Iterator[None]:
    """Run the block with ``env`` as the process environment (kernels inherit it), then restore.

    The folder of this Python leads PATH: nbgrader's gradebook runs ``alembic`` from there.
    """
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(saved if env is None else env)
    os.environ["PATH"] = notebooks.venv_first(os.environ.get("PATH", ""))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def checks_only(notebook: Path) -> None:
    """Tag every code cell of ``notebook`` but the setup cell and the graded ones to be skipped, so
    nbgrader runs only the checks (against what the learner's account holds) and none of the learner's work."""
    content = json.loads(notebook.read_text())
    for cell in content.get("cells", []):
        meta = cell.setdefault("metadata", {})
        given = meta.get("nbgrader", {})
        if cell.get("cell_type") != "code" or given.get("grade") or given.get("grade_id") == SETUP_CELL:
            continue
        tags = meta.setdefault("tags", [])
        if SKIP not in tags:
            tags.append(SKIP)
    notebook.write_text(json.dumps(content, indent=1, ensure_ascii=False))


def prepare(number: int, root: Path) -> Path:
    """Make ``root`` a course directory with lab ``number`` staged and recorded in its gradebook
    (nbgrader's generate_assignment), for :func:`autograde` to copy: once for a whole class."""
    slug = _stage_source(root, number)
    with _environ(None), warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"nbgrader\.")  # its gradebook's SQLAlchemy notices
        _succeeded(_api(course_config(root)).generate_assignment(slug, force=True, create=True), f"prepare {slug}")
    return root


def autograde(submission: Path, number: int, workdir: Path, env: dict[str, str] | None = None,
              student: str = "learner", in_place: bool = False, prepared: Path | None = None,
              outside_kernel: bool = True, hidden: tuple[Path, ...] = ()) -> Grade:
    """Grade ``submission`` of lab ``number`` with nbgrader, its kernel running in ``env``.

    ``workdir`` becomes the course directory (gradebook, autograded copy), a copy of ``prepared``
    when given (see :func:`prepare`; ``prepared`` may be ``workdir`` itself, a course directory
    that grades one ``student`` after another); nbgrader restores edited or deleted test cells from the
    solution before it runs the notebook. The graded cells are scored in this process from the
    account ``env`` names (:mod:`grader.scoring`), with no points for what catch-up built; only a
    benchmark of that cost turns ``outside_kernel`` off, leaving the score to what the kernel's test
    cells showed, as nbgrader's own autograde does. The kernel is confined (:mod:`grader.kernels`):
    it writes only its notebook's folder, and sees neither ``workdir`` nor ``hidden`` (the grading
    folder of a class, its learners file). ``in_place`` runs only the setup and test cells, with catching up
    turned off: the grade is what the account holds, and grading changes nothing in it.
    """
    from nbgrader.api import Gradebook

    root = workdir
    if prepared is None:
        prepare(number, root)
    elif prepared.resolve() != root.resolve():
        shutil.copytree(prepared, root, dirs_exist_ok=True)
    slug = notebooks.slug(number)
    api = _api(_grading_config(root, number, outside_kernel, hidden))
    submitted = root / "submitted" / student / slug
    submitted.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(submission, submitted / f"{slug}.ipynb")
    if in_place:
        checks_only(submitted / f"{slug}.ipynb")
        env = {**(os.environ if env is None else env), IN_PLACE: "1"}
    with _environ(env), warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"nbgrader\.")  # its gradebook's SQLAlchemy notices
        _succeeded(api.autograde(slug, student, force=True, create=True), f"autograde {submission}")
        with Gradebook(api.coursedir.db_url) as gradebook:
            graded = gradebook.find_submission_notebook(slug, slug, student)
            grades = [(g.cell_type, CellGrade(g.name, float(g.score), float(g.max_score))) for g in graded.grades]
            copy = root / "autograded" / student / slug / f"{slug}.ipynb"
            return Grade(slug, float(graded.code_score), float(graded.max_code_score),
                         tuple(c for kind, c in grades if kind == "code"), copy, tampered(submission, number),
                         tuple(c for kind, c in grades if kind == WRITTEN))


def _locked_sources(notebook: Path) -> dict[str, str]:
    """The source of each locked cell (nbgrader's read-only and test cells) by grade id."""
    sources = {}
    for cell in json.loads(notebook.read_text()).get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("locked") and meta.get("grade_id"):
            source = cell.get("source", "")
            sources[meta["grade_id"]] = "".join(source) if isinstance(source, list) else source
    return sources


def tampered(submission: Path, number: int) -> tuple[str, ...]:
    """The locked cells of lab ``number`` that ``submission`` changed or deleted: neither as released
    nor as in the solution (nbgrader puts them back before grading; this names them for the instructor)."""
    handed_in = _locked_sources(submission)
    solution = _locked_sources(notebooks.solution(number))
    return tuple(sorted(grade_id for grade_id, source in _locked_sources(notebooks.released(number)).items()
                        if handed_in.get(grade_id) not in (source, solution.get(grade_id))))


def _for_learners(notebook: Path) -> None:
    """Rewrite an autograded notebook for its learner: hidden tests' source and tracebacks removed."""
    content = json.loads(notebook.read_text())
    for cell in content["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        cell["source"] = HIDDEN_TESTS.sub("# (hidden tests ran here)", source)
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                output["traceback"] = [f"{output['ename']}: {output['evalue']}"]
    notebook.write_text(json.dumps(content, indent=1, ensure_ascii=False))


def feedback(grade: Grade, workdir: Path, student: str = "learner") -> Path:
    """The learner's feedback page (HTML) of an autograded notebook, without hidden tests or tracebacks."""
    _for_learners(grade.graded)
    api = _api(course_config(workdir))
    with _environ(None):
        _succeeded(api.generate_feedback(grade.notebook, student, force=True), f"write feedback for {student}")
    return workdir / "feedback" / student / grade.notebook / f"{grade.notebook}.html"
