"""Run directories, written atomically.

A run directory holds ``result.json`` (with ``schema_version``, config, seed,
versions, timings), ``arrays.npz``, ``model.safetensors`` when a model is
trained, ``figures/`` and ``report.html``. Every file is written to a
temporary sibling and renamed into place (``os.replace`` is atomic on POSIX),
so a killed run never leaves a half file. ``result.json`` is written last: its
presence marks a complete run.

Before any work, a command checks every path it will write (:func:`check_out_dir`,
:func:`check_out_file`) and then holds an exclusive lock on its run directory for the
whole run (:class:`RunLock`), so a second run on the same directory refuses in one line
instead of racing the first. A full disk is one :class:`~tamelab.errors.InputError` line.

Timing keys (any key named ``seconds``, ``*_seconds`` or ``timings``) are the
only part of the JSON that may differ between two runs with the same config
and seed; :func:`strip_timings` removes them for comparisons.
"""

from __future__ import annotations

import errno
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from types import TracebackType
from typing import Any, Mapping

import numpy as np

from .errors import InputError
from .result import SCHEMA_VERSION, provenance, to_jsonable

__all__ = [
    "runs_root",
    "check_out_dir",
    "check_out_file",
    "RunLock",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_write_npz",
    "write_run",
    "read_result",
    "read_arrays",
    "strip_timings",
    "dumps",
]


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


_UMASK = _umask()


def runs_root() -> Path:
    """Where default run directories go: ``$TAMELAB_RUNS``, else ``runs`` (relative to the working directory)."""
    return Path(os.environ.get("TAMELAB_RUNS") or "runs")


#: errno values that mean "the disk cannot take this file" rather than a bug.
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG}


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same dir + rename).

    A full disk (or quota, or a read-only file system) is an :class:`InputError` naming the file;
    the previous content of ``path`` is kept and no temporary file is left behind.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        _raise_disk(e, path)
        raise
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp creates 0600; results are ordinary files
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError):
            _raise_disk(e, path)
        raise
    return path


def _raise_disk(e: OSError, path: Path) -> None:
    if e.errno in _DISK_ERRNOS:
        raise InputError(
            "--out",
            f"cannot write {path}: {os.strerror(e.errno or 0).lower()}",
            "free some space or choose another --out",
        ) from None


# ------------------------------------------------------------------------------------------------
# output paths, checked before any work
# ------------------------------------------------------------------------------------------------
def _name_max(existing: Path) -> int:
    try:
        return int(os.pathconf(existing, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):  # pragma: no cover - platform without pathconf
        return 255


#: the longest file name (bytes) accepted before asking the file system (Linux NAME_MAX).
NAME_MAX = 255


def _check_names(path: Path, field: str) -> None:
    for name in path.parts:
        if len(name.encode("utf-8", "surrogateescape")) > NAME_MAX:
            raise InputError(
                field,
                f"the name {name[:24]}... is {len(name)} characters long (limit {NAME_MAX})",
                "choose a shorter name",
            )


def _nearest_existing(path: Path) -> tuple[Path, list[str]]:
    """The nearest ancestor of ``path`` that exists (following links), and the missing names below it."""
    missing: list[str] = []
    p = path
    while not p.exists():
        if p.is_symlink():  # a dangling link: it "exists" as a name but leads nowhere
            return p, missing
        missing.append(p.name)
        if p.parent == p:
            break
        p = p.parent
    return p, list(reversed(missing))


def _check_creatable(path: Path, field: str) -> None:
    base, missing = _nearest_existing(path)
    if base.is_symlink() and not base.exists():
        raise InputError(field, f"{base} is a dangling symbolic link", "remove it or choose another path")
    if not base.is_dir():
        raise InputError(field, f"{base} is not a directory, so {path} cannot be created", "choose another path")
    limit = _name_max(base)
    for name in missing:
        if len(name.encode("utf-8", "surrogateescape")) > limit:
            raise InputError(
                field,
                f"the name {name[:24]}... is {len(name)} characters long (limit {limit})",
                "choose a shorter name",
            )
    if not os.access(base, os.W_OK | os.X_OK):
        raise InputError(field, f"cannot create {path}: {base} is not writable", "choose a writable location")


def check_out_dir(path: str | os.PathLike[str], *, field: str = "--out") -> Path:
    """Check, before any work, that ``path`` can be used as a run directory; write nothing.

    Refused: an existing non-directory, a dangling symbolic link, a name longer than the file
    system allows, an unwritable or non-directory ancestor, and a run directory whose
    ``checkpoint``, ``figures`` or output files are symbolic links (they would be written through).

    Raises:
        InputError: one line naming ``field``.
    """
    p = Path(path)
    if str(path) == "":
        raise InputError(field, "is empty", "pass a directory path")
    _check_names(p, field)
    if p.is_symlink() and not p.exists():
        raise InputError(field, f"{p} is a dangling symbolic link", "remove it or choose another --out")
    if p.exists():
        if not p.is_dir():
            raise InputError(field, f"{p} exists and is not a directory", "choose another path")
        if not os.access(p, os.W_OK | os.X_OK):
            raise InputError(field, f"{p} is not writable", "choose a writable location")
        for name in _RUN_ENTRIES:
            if (p / name).is_symlink():
                raise InputError(
                    field,
                    f"{p / name} is a symbolic link: writing would go through it",
                    "remove the link or choose another --out",
                )
        return p
    _check_creatable(p, field)
    return p


def check_out_file(path: str | os.PathLike[str], *, field: str) -> Path:
    """Check, before any work, that the file ``path`` can be written (its directory must exist)."""
    p = Path(path)
    if str(path) == "":
        raise InputError(field, "is empty", "pass a file path")
    _check_names(p, field)
    if p.is_symlink():
        raise InputError(field, f"{p} is a symbolic link", "pass the path of a regular file")
    if p.exists() and not p.is_file():
        raise InputError(field, f"{p} exists and is not a regular file", "choose another path")
    parent = p.parent
    if not parent.is_dir():
        raise InputError(field, f"directory {parent} does not exist", "create it first or choose another path")
    limit = _name_max(parent)
    if len(p.name.encode("utf-8", "surrogateescape")) > limit:
        raise InputError(
            field,
            f"the name {p.name[:24]}... is {len(p.name)} characters long (limit {limit})",
            "choose a shorter name",
        )
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise InputError(field, f"{p} is not writable", "choose a writable location")
    return p


#: entries of a run directory that must never be symbolic links.
_RUN_ENTRIES = ("checkpoint", "figures", "result.json", "arrays.npz", "model.safetensors", "report.html")


class RunLock:
    """Exclusive lock on a run directory for the duration of a run (``flock`` on the directory).

    The directory is created if needed. A second process locking the same directory gets an
    :class:`InputError` at once (no waiting). If the run fails and the directory was created here
    and is still empty, it is removed again, so a refused run leaves nothing behind.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> with RunLock(d):
    ...     d.is_dir()
    True
    """

    def __init__(self, path: str | os.PathLike[str], *, field: str = "--out") -> None:
        self.path = Path(path)
        self.field = field
        self._fd: int | None = None
        self._created: list[Path] = []

    def __enter__(self) -> RunLock:
        check_out_dir(self.path, field=self.field)
        base, missing = _nearest_existing(self.path)
        cur = base
        for name in missing:
            cur = cur / name
            try:
                cur.mkdir()
            except FileExistsError:
                continue
            except OSError as e:
                self._cleanup()
                _raise_disk(e, cur)
                raise
            self._created.append(cur)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - no flock on this platform: no lock
            return self
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            self._cleanup()
            raise InputError(
                self.field,
                f"{self.path} is in use by another tamelab run",
                "wait for it to finish or choose another --out",
            ) from None
        self._fd = fd
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
        if exc_type is not None and not issubclass(exc_type, KeyboardInterrupt):
            self._cleanup()

    def _cleanup(self) -> None:
        for d in reversed(self._created):
            try:
                d.rmdir()  # only if empty: a partial run (e.g. a checkpoint to resume) is kept
            except OSError:
                break
        self._created = []


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def dumps(obj: Any) -> str:
    """Deterministic strict JSON (sorted keys, no NaN literals)."""
    return json.dumps(to_jsonable(obj), indent=2, sort_keys=True, allow_nan=False) + "\n"


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as deterministic strict JSON (:func:`dumps`) atomically."""
    return atomic_write_text(path, dumps(obj))


def atomic_write_npz(path: str | os.PathLike[str], arrays: Mapping[str, Any]) -> Path:
    """Write ``arrays`` as a compressed ``.npz`` atomically."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})  # type: ignore[arg-type]
    return atomic_write_bytes(path, buf.getvalue())


def write_run(
    out_dir: str | os.PathLike[str],
    result: Mapping[str, Any],
    *,
    command: str,
    config: Mapping[str, Any] | None = None,
    arrays: Mapping[str, Any] | None = None,
    figures: Mapping[str, bytes] | None = None,
    extra_files: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """Write a complete run directory and return the JSON document written.

    ``result`` is the capability's ``to_dict()``; it is wrapped with the
    command name, config, schema version and provenance. Figures are PNG bytes
    keyed by file name (saved under ``figures/``). ``result.json`` goes last.
    """
    out = Path(out_dir)
    check_out_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in (extra_files or {}).items():
        atomic_write_bytes(out / name, data)
    for name, data in (figures or {}).items():
        atomic_write_bytes(out / "figures" / name, data)
    if arrays:
        atomic_write_npz(out / "arrays.npz", arrays)
    doc = {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "config": dict(config or {}),
        "provenance": provenance(),
        "result": dict(result),
    }
    atomic_write_json(out / "result.json", doc)
    written: dict[str, Any] = json.loads(dumps(doc))
    return written


def read_result(run_dir: str | os.PathLike[str], *, field: str = "RUN_DIR") -> dict[str, Any]:
    """Read and check the shape of ``result.json`` of a run directory.

    The document must be a JSON object with an integer ``schema_version`` this version can read,
    a ``result`` object, and (when present) a string ``command`` and objects ``config`` and
    ``provenance``. Anything else is one :class:`InputError` line.
    """
    p = Path(run_dir) / "result.json"
    if p.is_symlink() or not p.is_file():
        raise InputError(field, f"{p} not found", "pass a directory written by a tamelab command")
    try:
        doc = json.loads(p.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(field, f"{p} is not UTF-8 text", "it was not written by tamelab") from None
    except json.JSONDecodeError as e:
        raise InputError(field, f"{p} is not valid JSON ({e.msg} at line {e.lineno})") from None
    except RecursionError:
        raise InputError(field, f"{p} is nested too deeply", "it was not written by tamelab") from None
    if not isinstance(doc, dict) or "schema_version" not in doc:
        raise InputError(field, f"{p} has no schema_version", "it was not written by tamelab")
    v = doc["schema_version"]
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise InputError(
            field, f"{p}: schema_version must be a positive integer, got {v!r}", "it was not written by tamelab"
        )
    if v > SCHEMA_VERSION:
        raise InputError(field, f"schema_version {v} is newer than this tamelab ({SCHEMA_VERSION})", "upgrade tamelab")
    if not isinstance(doc.get("result"), dict):
        raise InputError(
            field,
            f"{p}: 'result' must be a JSON object, got {type(doc.get('result')).__name__}",
            "it was not written by tamelab",
        )
    for key, typ in (("command", str), ("config", dict), ("provenance", dict)):
        if key in doc and not isinstance(doc[key], typ):
            raise InputError(
                field,
                f"{p}: '{key}' must be a {'string' if typ is str else 'JSON object'}",
                "it was not written by tamelab",
            )
    return doc


def read_arrays(run_dir: str | os.PathLike[str], *, field: str = "RUN_DIR") -> dict[str, np.ndarray]:
    """The arrays of ``arrays.npz`` in a run directory (``{}`` if there is none); never unpickles."""
    p = Path(run_dir) / "arrays.npz"
    if not p.is_file():
        return {}
    try:
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise InputError(
            field, f"{p} is not a readable .npz ({type(e).__name__})", "it was not written by tamelab"
        ) from None


_TIMING_KEYS = {"seconds", "timings", "provenance", "wall_seconds", "elapsed"}


def strip_timings(obj: Any) -> Any:
    """Remove timing/provenance keys recursively (for reproducibility checks)."""
    if isinstance(obj, dict):
        return {
            k: strip_timings(v) for k, v in obj.items() if k not in _TIMING_KEYS and not str(k).endswith("_seconds")
        }
    if isinstance(obj, list):
        return [strip_timings(v) for v in obj]
    return obj
