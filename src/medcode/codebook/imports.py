"""`medcode data import`: recognise release files, keep a copy, rebuild; all or nothing."""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from . import sources as source_modules
from .build import BuildReport, build, read_manifest, write_manifest, all_sources
from .errors import SourceError
from .writer import SourceFile, sha256_of

MAX_MEMBER_BYTES = 512 * 1024 * 1024
MAX_RATIO = 200


@dataclass
class ImportResult:
    added: list[SourceFile] = field(default_factory=list)
    unchanged: list[SourceFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    report: BuildReport | None = None


def _safe_members(zpath: Path, zf: zipfile.ZipFile):
    for info in zf.infolist():
        if info.is_dir():
            continue
        name = info.filename
        if name.startswith(("/", "\\")) or ".." in Path(name).parts:
            raise SourceError(zpath, f"archive member {name!r} points outside the archive")
        if info.file_size > MAX_MEMBER_BYTES or (
            info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 1 << 20
        ):
            raise SourceError(zpath, f"archive member {name!r} expands to {info.file_size} bytes: refused")
        yield info


def _candidates(path: Path, staging: Path, explicit: bool, result: ImportResult):
    """(file path, kind) for every recognised file under `path`; zips are unpacked into staging."""
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            yield from _candidates(child, staging, False, result)
        return
    if not path.exists():
        raise SourceError(path, "no such file or folder")
    if path.stat().st_size == 0:
        if explicit:
            raise SourceError(path, "file is empty")
        result.skipped.append(f"{path} (empty)")
        return
    if path.suffix.lower() == ".zip" or (source_modules.head_of(path, 4) == b"PK\x03\x04"
                                         and source_modules.detect(path) is None):  # an .xlsx release is a zip too
        try:
            zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise SourceError(path, "is named .zip but is not a zip archive") from None
        with zf:
            found = 0
            for info in _safe_members(path, zf):
                target = staging / f"{path.stem}__{Path(info.filename).name}"
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
                mod = source_modules.detect(target)
                if mod is None:
                    target.unlink()
                    continue
                found += 1
                yield target, mod
            if not found and explicit:
                raise SourceError(path, "archive holds no release file medcode recognises")
        return
    mod = source_modules.detect(path)
    if mod is None:
        if explicit:
            kinds = ", ".join(m.KIND for m in source_modules.modules())
            raise SourceError(path, f"not a release file medcode recognises (known layouts: {kinds})")
        result.skipped.append(str(path))
        return
    yield path, mod


def import_paths(paths: list[Path], folder: Path, dest: Path, progress: bool = True,
                 always_build: bool = False) -> ImportResult:
    """Copy recognised files into `folder`, record them, rebuild `dest`. On failure nothing changes.

    The book is rebuilt when something new was imported, or always with `always_build`.
    """
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    before = read_manifest(folder)
    known = {s.sha256 for s in before}
    result = ImportResult()
    new_files: list[Path] = []
    originals: dict[str, str] = {}
    try:
        for path in paths:
            for file, mod in _candidates(Path(path), staging, True, result):
                digest = sha256_of(file)
                if digest in known:
                    result.unchanged.append(SourceFile(kind=mod.KIND, path=file, sha256=digest))
                    continue
                known.add(digest)
                target = folder / f"{digest[:12]}-{file.name.split('__')[-1]}"
                shutil.copyfile(file, target)
                new_files.append(target)
                originals[str(target)] = (f"{path} member {file.name.split('__', 1)[-1]}"
                                          if file.parent == staging else str(file))
                result.added.append(SourceFile(kind=mod.KIND, path=target, sha256=digest))
        if result.added:
            write_manifest(folder, before + result.added)
        if result.added or always_build:
            result.report = build(dest, all_sources(folder), progress=progress)
    except SourceError as exc:
        write_manifest(folder, before)
        for f in new_files:
            f.unlink(missing_ok=True)
        origin = originals.get(exc.path)
        if origin:  # name the user's file, not the stored copy
            raise SourceError(origin, exc.detail, exc.where) from None
        raise
    except BaseException:
        write_manifest(folder, before)
        for f in new_files:
            f.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result
