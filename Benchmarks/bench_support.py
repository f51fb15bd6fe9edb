"""What Benchmarks/run and its sections share."""
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def log(text):
    print(text, file=sys.stderr, flush=True)


def run(*command, **options):
    """A command's standard output; its failure ends the run."""
    return subprocess.run(command, check=True, text=True, stdout=subprocess.PIPE, cwd=ROOT, **options).stdout


def median(values):
    ordered = sorted(float(value) for value in values)
    return ordered[(len(ordered) + 1) // 2 - 1]


def peak_rss_kb(pid):
    """A process's peak resident memory so far (VmHWM), in KiB; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as file:
            return next((int(line.split()[1]) for line in file if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


def number(value):
    """A figure as the tools print it: an integer without a point."""
    return str(int(value)) if float(value).is_integer() else str(value)
