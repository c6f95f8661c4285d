"""The learner's kernel while grading: confined by bubblewrap, as labstack confines builds.

A submission's kernel runs the learner's code as the grader's user. Unconfined it could rewrite the
checks or the instructor's solutions before they are read, write the gradebook, read the learners
file (every learner's secret key) or leave a process behind that tampers with the next learner's
grading. Confined (:class:`labstack.sandbox.Jail`), it sees the file system read-only with the
user's home, labstack's home, the learners file and the grading folder hidden (the kit and its
Python shown again read-only), writes only its own notebook's folder and a /tmp of its own, and
lives in a PID namespace of its own that dies with it. The network is shared: it still reaches
labstack on 127.0.0.1. Where bubblewrap does not work, grading goes on unconfined and says so.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer, List, Unicode

from grader.notebooks import ROOT
from labstack import sandbox

KERNEL_DIED = "lab_kit_kernel_died"  # in nbconvert's resources: why the kernel stopped before the end
LEARNERS = "LABSTACK_LEARNERS"  # where labstack's class-mode learners file is, when it is set here
_warned: list[str] = []


def labstack_home() -> Path:
    """Where labstack keeps every account's state, as ``labstack up`` run from the kit would."""
    return Path(os.environ.get("LABSTACK_HOME") or ROOT / ".labstack").resolve()


def confinement() -> str | None:
    """None when kernels can be confined here, else why not (and how to fix it)."""
    try:
        sandbox.bwrap()
    except sandbox.Unavailable as exc:
        return f"{exc}: {sandbox.INSTALL_HINT}"
    return None


def visible_kit(lab: int) -> list[Path]:
    """What of the kit a kernel grading lab ``lab`` may read: the grader, labstack and the sample app
    (``infra/``), the learner notebooks, and the solutions of the labs before it (its catch-up runs
    them); never the solution of ``lab`` or a later one, the kit's tests, or anything else in it."""
    from grader import checks, notebooks

    earlier = [notebooks.solution(n) for n in checks.lab_numbers() if n < lab]
    return [ROOT / "grader", ROOT / "infra", notebooks.LABS, *earlier]


class ConfinedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run under bubblewrap (see the module's docstring): the folder the
    kernel starts in is its only writable one; the kit shows only :func:`visible_kit` of ``lab``;
    ``hidden`` paths (the grading folder, the learners file) are hidden besides the user's and
    labstack's homes and the learners file labstack names."""

    lab = Integer(0, help="The lab being graded.").tag(config=True)
    hidden = List(Unicode(), help="More paths the kernel must not see.").tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # The connection file (the kernel's keys) in a folder of its own, the one the kernel is shown.
        self._private = tempfile.mkdtemp(prefix="grading-kernel-")
        self.connection_file = str(Path(self._private) / "kernel.json")

    @property
    def kernel_spec(self) -> Any:
        """The kernel's spec, interrupted by a message: a signal would reach bubblewrap, not the kernel."""
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = "message"
        return spec

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        folder = Path(kw.get("cwd") or os.getcwd()).resolve()
        learners = [Path(os.environ[LEARNERS])] if os.environ.get(LEARNERS) else []
        hidden = [Path.home(), labstack_home(), ROOT, *learners, *map(Path, self.hidden)]
        jail = sandbox.Jail(hidden=tuple(p.resolve() for p in hidden),
                            readable=(*sandbox.runtime_paths(), *visible_kit(self.lab), Path(self._private)),
                            writable=(folder,))
        why = confinement()
        if why is None:  # HOME and the runtime folder in its own /tmp; its parent is bubblewrap, pid 1 of its
            # namespace, which ipykernel would take for a parent gone: nothing to watch
            settings = ["--setenv", "HOME", "/tmp", "--setenv", "JUPYTER_RUNTIME_DIR", "/tmp/jupyter",
                        "--unsetenv", "JPY_PARENT_PID", "--"]
            # without a parent to watch, ipykernel would print how to connect to it on the grader's terminal
            kernel_cmd = jail.argv(sandbox.bwrap())[:-1] + settings + kernel_cmd + ["--IPKernelApp.log_level=CRITICAL"]
        elif why not in _warned:
            _warned.append(why)
            print(f"✗ learners' kernels run unconfined while grading: {why}", file=sys.stderr)
        await super()._async_launch_kernel(kernel_cmd, **kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart)
        if not restart:
            for leftover in Path(self._private).glob("*"):
                leftover.unlink(missing_ok=True)
            Path(self._private).rmdir()


class ConfinedExecute(Execute):
    """nbgrader's Execute with the kernel confined (:class:`ConfinedKernelManager`); a kernel that dies (a
    notebook that kills it, or runs it out of memory) ends the run instead of the grading: the cells not
    reached have no outputs, the checks still score what the account holds, and each graded cell says
    what happened."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("kernel_manager_class", ConfinedKernelManager)
        super().__init__(**kwargs)

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> tuple[NotebookNode, Any]:
        """Run ``nb``'s cells in a confined kernel until the end or until the kernel dies."""
        try:
            return super().preprocess(nb, resources, km)
        except DeadKernelError as exc:
            resources[KERNEL_DIED] = f"the kernel died while the notebook ran ({exc}); the cells after it did not run"
            return nb, resources
