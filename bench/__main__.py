"""``python -m bench``: run the core benchmarks and print labstack beside moto_server."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bench import (
    cdk_synth,
    class_mode,
    classroom,
    codebuild,
    codedeploy,
    compute,
    console,
    git,
    grading_cost,
    iam,
    lab_start,
    labs,
    moto_writes,
    pipeline,
    workshop,
)
from bench.core import Options, run
from bench.report import table, write_json

RESULTS = Path(__file__).resolve().parent / "results" / "core.json"
# Each benchmark by name, in the order `make bench` runs them. The classroom and workshop ones build or
# grade a whole class with every build and deployment run (tens of minutes for 30 learners), and so does
# the class at rest (it builds every learner's labs first), and the cost of grading outside the kernel (a
# learner's six labs graded twice): they run only when named.
BENCHMARKS = {"core": run, "codebuild": codebuild.run, "git": git.run, "compute": compute.run,
              "codedeploy": codedeploy.run, "lab_start": lab_start.run, "labs": labs.run, "pipeline": pipeline.run,
              "console": console.run, "grading_cost": grading_cost.run, "class_mode": class_mode.run, "classroom": classroom.run,
              "workshop": workshop.run, "class_mode_rest": class_mode.rest_figures, "iam": iam.run,
              "moto_writes": moto_writes.run, "cdk_synth": cdk_synth.run}
ONLY_WHEN_NAMED = ("classroom", "workshop", "class_mode_rest", "grading_cost", "iam")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--repeat", type=int, default=7, help="cold starts per server (default 7)")
    parser.add_argument("--requests", type=int, default=500, help="timed requests per latency figure (default 500)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed requests before each latency figure (default 50)")
    parser.add_argument("--learners", type=int, default=classroom.TARGET_LEARNERS,
                        help=f"learners in the autograded class or workshop (default {classroom.TARGET_LEARNERS})")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON output (default {RESULTS})")
    parser.add_argument("only", nargs="*", choices=[[], *BENCHMARKS], metavar="NAME",
                        help=f"run only these benchmarks ({', '.join(BENCHMARKS)}; default: all but "
                             f"{', '.join(ONLY_WHEN_NAMED)})")
    return parser


def _exit_on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the servers


def main(argv: list[str] | None = None) -> int:
    """Run, print the table, write the JSON; 0 unless something failed (no timing asserts)."""
    args = _parser().parse_args(argv)
    for name in ("repeat", "requests", "warmup", "learners"):
        if getattr(args, name) < (0 if name == "warmup" else 1):
            raise SystemExit(f"--{name} is too small")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    options = Options(repeat=args.repeat, requests=args.requests, warmup=args.warmup, learners=args.learners)
    started = time.perf_counter()

    def progress(step: str) -> None:
        print(f"  [{time.perf_counter() - started:5.1f}s] {step}", file=sys.stderr, flush=True)

    figures = []
    for name in args.only or [n for n in BENCHMARKS if n not in ONLY_WHEN_NAMED]:
        figures += BENCHMARKS[name](options, progress)
    seconds = time.perf_counter() - started
    print(table(figures))
    print(f"\nreference = moto_server unless the figure names another; ratio = labstack / reference "
          f"(below 1: labstack is faster or smaller); run took {seconds:.0f} s")
    write_json(args.out, figures, options, seconds)
    print(f"figures written to {args.out}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; every server started was stopped", file=sys.stderr)
        raise SystemExit(130) from None
