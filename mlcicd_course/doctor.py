"""The environment check an instructor asks every learner to run (`mlcicd doctor`)."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from mlcicd_course import KERNEL_NAME

DISTRIBUTION = "mlcicd-course"
MIN_PYTHON = (3, 11)


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        """`OK   name: detail` or `FAIL name: detail -> fix`."""
        text = f"{'OK  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"
        return text if self.ok else f"{text} -> fix: {self.fix}"


def course_requirements() -> list[Requirement]:
    """The course's own dependencies, as declared in its installed metadata."""
    try:
        declared = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return []
    return [r for r in map(Requirement, declared) if not r.marker]


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> Check:
    shown = ".".join(map(str, version))
    ok = tuple(version[:2]) >= MIN_PYTHON
    return Check(f"Python >= {MIN_PYTHON[0]}.{MIN_PYTHON[1]}", ok, shown,
                 "install Python 3.11, 3.12 or 3.13 and re-create the environment (make lab)")


def check_requirement(requirement: Requirement | str) -> Check:
    """Is the package installed, in a version the course accepts?"""
    try:
        req = Requirement(str(requirement))
    except InvalidRequirement as err:
        return Check(str(requirement), False, f"not a valid requirement ({err})", "fix the spec")
    spec = str(req.specifier) or "any version"
    fix = f'pip install "{req.name}{req.specifier}" (or re-run make lab)'
    try:
        installed = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        return Check(f"package {req.name} {spec}", False, "not installed", fix)
    ok = req.specifier.contains(installed, prereleases=True)
    return Check(f"package {req.name} {spec}", ok, installed, fix)


def check_course_installed() -> Check:
    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return Check("course package", False, "mlcicd-course is not installed",
                     'pip install -e ".[dev]" from the course folder (or make lab)')
    return Check("course package", True, f"mlcicd-course {version}")


def check_kernel(name: str = KERNEL_NAME) -> Check:
    """Is the course's Jupyter kernel registered?"""
    fix = f'python -m ipykernel install --sys-prefix --name {name} --display-name "Python ({name})"'
    try:
        from jupyter_client.kernelspec import KernelSpecManager
        specs = KernelSpecManager().find_kernel_specs()
    except Exception as err:  # noqa: BLE001 - any failure here is a broken Jupyter install
        return Check(f"Jupyter kernel {name}", False, f"cannot list kernels ({err})", fix)
    if name not in specs:
        return Check(f"Jupyter kernel {name}", False, "not registered", fix)
    return Check(f"Jupyter kernel {name}", True, "registered")


def check_matplotlib() -> Check:
    """Can matplotlib draw a figure without a screen?"""
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(1, 1))
        FigureCanvasAgg(figure).draw()
        backend = matplotlib.get_backend()
    except Exception as err:  # noqa: BLE001
        return Check("matplotlib drawing", False, str(err).splitlines()[0],
                     "pip install --force-reinstall matplotlib")
    return Check("matplotlib drawing", True, f"backend {backend}")


def check_free_port(host: str = "127.0.0.1") -> Check:
    """Can the course's servers listen on a local port?"""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
    except OSError as err:
        return Check("local port", False, f"cannot listen on {host} ({err.strerror})",
                     "allow local connections in your firewall or security software")
    return Check("local port", True, f"{host} can listen (got port {port})")


def check_writable(folder: str | os.PathLike[str] = ".") -> Check:
    """Can the course write files in the working folder?"""
    folder = Path(folder)
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".mlcicd-doctor-"):
            pass
    except OSError as err:
        return Check("write access", False, f"cannot write in {folder.resolve()} ({err.strerror})",
                     "run the course from a folder you own, e.g. your home folder")
    return Check("write access", True, "working folder is writable")


def run_checks(extra_requirements: Iterable[str] = (), folder: str = ".",
               kernel: str = KERNEL_NAME) -> list[Check]:
    """Every check, in the order they are printed."""
    checks = [check_python(), check_course_installed()]
    checks += [check_requirement(r) for r in course_requirements()]
    checks += [check_requirement(r) for r in extra_requirements]
    checks += [check_kernel(kernel), check_matplotlib(), check_free_port(), check_writable(folder)]
    return checks
