"""Writing files so that a crash, a full disk or bad input never leaves a half-written result behind.

Every write of a command goes through one of these helpers. A write that fails (disk full, no permission,
a read-only folder, a path under a regular file) raises `WriteError` naming the path and the cause, in one
line; the file or folder that was there before keeps its old content, so what was saved stays loadable.

    atomic_path(path)          a temporary file beside `path`, renamed onto it on success
    atomic_dir(path)           a temporary folder beside `path`, renamed onto it on success
    save_torch(obj, path)      torch.save through atomic_path (torch reports a full disk as RuntimeError)
    writing(path)              turn OSError raised inside the block into WriteError naming `path`
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from .errors import OptionError, WriteError  # noqa: F401  (WriteError re-exported: bertkit.io.WriteError)


_ADVICE = {
    errno.ENOSPC: "free some disk space or write elsewhere",
    errno.EDQUOT: "free some of your disk quota or write elsewhere",
    errno.EACCES: "choose a folder you may write to",
    errno.EPERM: "choose a folder you may write to",
    errno.EROFS: "the file system is read-only; choose another folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
    errno.EEXIST: "a file is in the way; choose another path",
    errno.EISDIR: "that is a folder; give a file path",
    errno.ENAMETOOLONG: "choose a shorter path",
}


def write_error(path: str | os.PathLike, err: BaseException, advice: str | None = None,
                note: str | None = None) -> WriteError:
    """The WriteError for `err` (an OSError, or torch's RuntimeError from a failed save) while writing `path`.

    The message is one line: "<path>: cannot write (<cause>); <what to do>[; <note>]"; `advice` replaces
    the what-to-do that the error number suggests, `note` adds e.g. which earlier file is intact."""
    if isinstance(err, OSError):
        cause = err.strerror or str(err) or type(err).__name__
        if err.filename and Path(err.filename) != Path(path) and not Path(err.filename).name.startswith("."):
            cause += f": {err.filename}"  # the part of the path that is in the way (a temporary name is not)
        where = path
        todo = advice or _ADVICE.get(err.errno, "check the path, its permissions and the free disk space")
    else:  # torch.save: "[enforce fail at inline_container.cc:672] . unexpected pos 123 vs 456"
        detail = " ".join(str(err).split())
        cause = f"the write stopped short ({detail[:120]})" if detail else "the write failed"
        where = path
        todo = advice or "is the disk full? free some space or write elsewhere"
    return WriteError(f"{where}: cannot write ({cause}); {todo}" + (f"; {note}" if note else ""))


@contextmanager
def writing(path: str | os.PathLike, advice: str | None = None, note: str | None = None) -> Iterator[None]:
    """Inside the block, an OSError (a failed write) becomes a WriteError naming `path`."""
    try:
        yield
    except WriteError:
        raise
    except OSError as e:
        raise write_error(path, e, advice, note) from e


def _mkdir_parent(path: Path) -> None:
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(parent))
    parent.mkdir(parents=True, exist_ok=True)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed onto `path` in one step.

    On an exception the temporary file is removed and `path` keeps its old content (if any). An OSError
    (creating the folder, writing in the block, renaming) is raised as a WriteError naming `path`."""
    path = Path(path)
    with writing(path):
        _mkdir_parent(path)
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, 0o666 & ~_umask())  # a new file's usual permissions (mkstemp's own are 0600)
        os.close(fd)
        try:
            yield Path(tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def check_writable(path: str | os.PathLike) -> None:
    """Before any work: the WriteError that writing the file `path` would end in, when it can be told now
    (a part of the path is a file, or `path` is a folder)."""
    path = Path(path)
    with writing(path):
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        parent = next((p for p in path.parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(parent))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def save_torch(obj, path: str | os.PathLike, note: str | None = None) -> None:
    """torch.save(obj) to `path` atomically; a failed write (OSError, or the RuntimeError torch raises when
    the disk fills mid-file) is a WriteError naming `path` (plus `note`), and the old file stays as it was."""
    import torch
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            torch.save(obj, tmp)
    except WriteError as e:
        raise WriteError(f"{e}; {note}" if note else str(e)) from e
    except (OSError, RuntimeError) as e:
        raise write_error(path, e, note=note) from e


# What an output folder of bertkit holds (model and tokenizer files, run records, corpus shards). An
# existing folder is replaced only when it holds nothing else, so a folder of the user's own files given
# as --out is refused instead of deleted.
OUTPUT_NAMES = re.compile(
    r"(config\.json|model\.safetensors|pytorch_model\.bin|vocab\.txt|vocab\.json|merges\.txt|tokenizer\.json"
    r"|spiece\.model"
    r"|tokenizer_config\.json"
    r"|special_tokens_map\.json|added_tokens\.json|crf\.safetensors|metrics\.jsonl|curves\.png|confusion\.png"
    r"|test_metrics\.json|meta\.json|model(\.int8)?\.onnx|(train|eval)-\d+\.(tokens|sents|docs)\.npy)")


def check_replaceable(out: str | os.PathLike, also: Iterable[str] = ()) -> None:
    """Refuse (OptionError naming `out`) to replace an existing folder that holds anything but bertkit's
    own output files (OUTPUT_NAMES, or the names in `also`): it is someone's folder, not an old output."""
    out = Path(out)
    if not out.is_dir():
        return
    also = set(also)
    foreign = sorted(p.name for p in out.iterdir() if p.name not in also and not OUTPUT_NAMES.fullmatch(p.name))
    if foreign:
        shown = ", ".join(foreign[:4]) + (f" and {len(foreign) - 4} more" if len(foreign) > 4 else "")
        raise OptionError(f"{out}: the folder exists and holds files that are not bertkit output ({shown}); "
                          "writing there would replace the whole folder, so give a new or empty folder")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_temp_dir(out: str | os.PathLike) -> Path:
    """A new empty folder beside `out` (same file system, so it can be renamed onto `out`), with the
    permissions a new folder gets (mkdtemp's own are 0700). An existing `out` must be replaceable."""
    out = Path(out).absolute()  # "." and ".." have no name to put a sibling beside
    check_replaceable(out)
    with writing(out):
        _mkdir_parent(out)
        if out.exists() and not out.is_dir():
            raise FileExistsError(errno.EEXIST, "a file of that name exists", str(out))
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        tmp.chmod(0o777 & ~_umask())
        return tmp


def replace_dir(tmp: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Rename the complete folder `tmp` onto `out`; an old `out` is moved aside first and removed after.
    The old `out` must hold only bertkit output or names that `tmp` holds too (check_replaceable)."""
    tmp, out = Path(tmp), Path(out).absolute()
    check_replaceable(out, also=(p.name for p in tmp.iterdir()))
    with writing(out):
        old = None
        if out.exists():
            if not out.is_dir():
                raise FileExistsError(errno.EEXIST, "a file of that name exists", str(out))
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
        try:
            os.replace(tmp, out)
        except OSError:
            if old is not None:
                os.replace(old, out)  # put the previous folder back
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return out


@contextmanager
def atomic_dir(out: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside `out`; on success it replaces `out` in one step, on an exception it
    is removed and `out` keeps its old content. OSError inside the block is a WriteError naming `out`."""
    out = Path(out)
    tmp = make_temp_dir(out)
    try:
        with writing(out):
            yield tmp
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
