"""Locate dataset files on disk, downloading and verifying them if needed.

Search order for a dataset called ``<name>`` (e.g. ``mnist``):

1. the explicit ``path=`` directory, if one is given. It is authoritative:
   when it is given, no other place is searched and nothing is downloaded;
2. ``$GRADKIT_DATA/<name>``, then ``$GRADKIT_DATA`` itself;
3. the user cache ``$XDG_CACHE_HOME/gradkit/<name>`` (default
   ``~/.cache/gradkit/<name>``);
4. the system directory ``/usr/share/datasets/<name>`` (where Debian's
   ``dataset-fashion-mnist`` package installs);
5. a download from each mirror in turn into the user cache.

A directory is used only if it holds *every* requested file (raw or
``.gz``), so files from different copies are never mixed. Downloads are
written to a temporary file inside the cache directory, verified (a valid IDX
file whose decompressed SHA-256, or where none is known whose shape, matches)
and only then moved into place with :func:`os.replace`; a failed download
leaves nothing behind.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import DatasetError
from .idx import _read_idx_with_digest, is_gzip

__all__ = ["DatasetSpec", "FileSpec", "SYSTEM_DATA_DIR", "cache_dir", "locate"]

#: Where system packages install datasets (Debian: ``dataset-fashion-mnist``).
SYSTEM_DATA_DIR = Path("/usr/share/datasets")

_CHUNK = 1 << 16
_PROGRESS_INTERVAL = 0.25  # seconds between progress-line refreshes


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset.

    Attributes:
        key: Short identifier, e.g. ``"train_images"``.
        filename: Standard file name without ``.gz``.
        sha256: Hex SHA-256 of the *decompressed* content, or None if unknown.
        shape: Expected array shape, checked on downloads whose ``sha256``
            is None (a structural stand-in for the missing hash).
    """

    key: str
    filename: str
    sha256: str | None = None
    shape: tuple[int, ...] | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to find or fetch a dataset.

    Attributes:
        name: Directory name used under the search roots, e.g. ``"mnist"``.
        title: Human-readable name for messages, e.g. ``"MNIST"``.
        files: The dataset's files.
        mirrors: Base URLs; a file is fetched from ``<mirror>/<filename>.gz``.
        homepage: Where a person can get the files by hand.
    """

    name: str
    title: str
    files: tuple[FileSpec, ...]
    mirrors: tuple[str, ...] = ()
    homepage: str = ""

    def select(self, keys) -> tuple[FileSpec, ...]:
        """Return the file specs for ``keys`` (all files if ``keys`` is None)."""
        if keys is None:
            return self.files
        by_key = {f.key: f for f in self.files}
        unknown = [k for k in keys if k not in by_key]
        if unknown:
            raise ValueError(f"{self.title} has no file(s) {unknown}; known: {sorted(by_key)}")
        return tuple(by_key[k] for k in keys)


def cache_dir(name: str) -> Path:
    """Return the user cache directory for dataset ``name``.

    Uses ``$XDG_CACHE_HOME/gradkit/<name>`` when ``XDG_CACHE_HOME`` is set to
    an absolute path, otherwise ``~/.cache/gradkit/<name>``.

    Args:
        name: Dataset directory name, e.g. ``"mnist"``.

    Returns:
        The directory path (not created).

    Example:
        >>> cache_dir("mnist")  # doctest: +SKIP
        PosixPath('/home/me/.cache/gradkit/mnist')
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return root / "gradkit" / name


def _names(files) -> str:
    return ", ".join(f"{f.filename}[.gz]" for f in files)


def _find_in_dir(directory: Path, files) -> tuple[dict[str, Path] | None, str]:
    """Return ``(paths, "")`` if ``directory`` has every file, else ``(None, reason)``."""
    if not directory.exists():
        return None, "does not exist"
    if not directory.is_dir():
        return None, "is not a directory"
    found, missing = {}, []
    for f in files:
        for candidate in (directory / f"{f.filename}.gz", directory / f.filename):
            if candidate.is_file():
                found[f.key] = candidate
                break
        else:
            missing.append(f)
    if not missing:
        return found, ""
    if not found:
        return None, f"contains none of the files ({_names(files)})"
    have = ", ".join(p.name for p in found.values())
    return None, f"has {have} but is missing {_names(missing)}"


def _resolve_mirrors(spec: DatasetSpec, mirrors) -> tuple[list[str], str]:
    """Return the mirror list and where it came from."""
    if mirrors is not None:
        return ([mirrors] if isinstance(mirrors, str) else list(mirrors)), "mirrors= argument"
    env = os.environ.get("GRADKIT_MIRRORS")
    if env is not None:
        return [m for m in re.split(r"[\s,]+", env) if m], "$GRADKIT_MIRRORS"
    return list(spec.mirrors), "built-in mirror list"


def locate(
    spec: DatasetSpec,
    keys=None,
    path: str | os.PathLike | None = None,
    *,
    mirrors=None,
    download: bool = True,
    quiet: bool = False,
    timeout: float = 30.0,
    deadline: float = 600.0,
    max_bytes: int | None = None,
) -> dict[str, Path]:
    """Find (or download) the requested files of a dataset.

    Args:
        spec: The dataset description.
        keys: File keys to find (default: all files of the dataset).
        path: Explicit directory. If given, only this directory is used.
        mirrors: Base URLs to download from, overriding ``$GRADKIT_MIRRORS``
            (whitespace/comma separated) and the built-in list. An empty list
            disables downloading.
        download: Set False to never use the network.
        quiet: Suppress the download progress line on stderr.
        timeout: Socket timeout in seconds for each download.
        deadline: Seconds a whole file's download may take (a server dripping
            one byte at a time is cut off here).
        max_bytes: Bytes a download may have; default: the file's expected
            size plus a small margin (an endless response stops there).

    Downloads are HTTPS only, and only of files with a pinned SHA-256.
    Tests can serve files from ``http://127.0.0.1`` by setting
    ``GRADKIT_ALLOW_HTTP_LOCALHOST=1`` (plain HTTP to any other host is refused).

    Returns:
        Mapping from file key to the path of the file (raw or gzip).

    Raises:
        DatasetError: The files were found nowhere; the message lists every
            place tried with its reason and how to supply the files by hand.

    Example:
        >>> from gradkit.datasets import mnist
        >>> locate(mnist.dataset_spec(), ["test_images", "test_labels"])  # doctest: +SKIP
        {'test_images': PosixPath(...), 'test_labels': PosixPath(...)}
    """
    files = spec.select(keys)
    if path is not None:
        directory = Path(path).expanduser()
        found, reason = _find_in_dir(directory, files)
        if found is None:
            raise DatasetError(
                f"path={os.fspath(path)!r} {reason}. Put the {spec.title} files "
                f"({_names(files)}) in that directory, or leave path=None to search "
                "the standard places and download them."
            )
        return found

    tried: list[str] = []
    places: list[tuple[str, Path]] = []
    data_root = os.environ.get("GRADKIT_DATA", "")
    if data_root:
        root = Path(data_root).expanduser()
        places += [("$GRADKIT_DATA", root / spec.name), ("$GRADKIT_DATA", root)]
    else:
        tried.append("$GRADKIT_DATA: not set")
    cache = cache_dir(spec.name)
    places += [("user cache", cache), ("system dir", Path(SYSTEM_DATA_DIR) / spec.name)]
    for label, directory in places:
        found, reason = _find_in_dir(directory, files)
        if found is not None:
            return found
        tried.append(f"{label} {directory}: {reason}")

    urls, source = _resolve_mirrors(spec, mirrors)
    if not download:
        tried.append("download: disabled (download=False)")
    elif not urls:
        tried.append(f"download: no mirrors configured ({source} is empty)")
    elif _download_missing(spec, files, cache, urls, tried, quiet,
                           (timeout, deadline, max_bytes)):
        found, reason = _find_in_dir(cache, files)
        if found is not None:
            return found
        tried.append(f"user cache {cache} after download: {reason}")
    raise _not_found(spec, files, tried, cache)


def _not_found(spec: DatasetSpec, files, tried: list[str], cache: Path) -> DatasetError:
    lines = [f"Could not find the {spec.title} files ({_names(files)}). Places tried:"]
    lines += [f"  - {t}" for t in tried]
    source = f" from {spec.homepage}" if spec.homepage else ""
    lines.append(
        f"To supply them by hand, get the files{source} (gzip or uncompressed, standard "
        f"names) into one directory and pass path='that/dir', or set GRADKIT_DATA to a "
        f"directory containing {spec.name}/ with the files, or copy them into {cache}."
    )
    return DatasetError("\n".join(lines))


def _download_missing(spec, files, cache: Path, urls, tried, quiet, limits) -> bool:
    """Download every file not already in ``cache``. Return True on success."""
    created = not cache.exists()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        tried.append(f"download: cannot create cache directory {cache} ({exc})")
        return False
    ok = True
    for i, f in enumerate(files):
        present, _ = _find_in_dir(cache, [f])
        if present is None and not _download_one(f, cache, urls, tried, quiet, limits):
            ok = False
            if files[i + 1 :]:
                tried.append(f"download: stopped, did not try {_names(files[i + 1 :])}")
            break
    if not ok and created:
        try:  # leave no trace of a download that never completed
            cache.rmdir()
        except OSError:
            pass
    return ok


def _expected_bytes(f: FileSpec) -> int | None:
    """The uncompressed size of an IDX file of ``f.shape`` (uint8), or None."""
    if f.shape is None:
        return None
    n = 1
    for d in f.shape:
        n *= d
    return 4 + 4 * len(f.shape) + n


def _url_allowed(url: str) -> str:
    """Why ``url`` may not be fetched ("" when it may): HTTPS only; plain HTTP to
    127.0.0.1/localhost when GRADKIT_ALLOW_HTTP_LOCALHOST=1 (the tests' local server)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "https":
        return ""
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost") and \
            os.environ.get("GRADKIT_ALLOW_HTTP_LOCALHOST") == "1":
        return ""
    return (f"refused: only https:// mirrors are used (got {parts.scheme}://); a plain "
            "HTTP download can be swapped on the way")


def _download_one(f: FileSpec, cache: Path, urls, tried, quiet, limits) -> bool:
    # imported here, not at the top: http/ssl/email cost ~30 ms and are needed only to download
    import http.client
    import urllib.error

    timeout, deadline, max_bytes = limits
    if f.sha256 is None:
        tried.append(f"download {f.filename}: refused, no SHA-256 is pinned for it in gradkit "
                     "(an unverifiable file is never cached)")
        return False
    expected = _expected_bytes(f)
    if max_bytes is None and expected is not None:
        max_bytes = expected + expected // 64 + (1 << 16)  # gzip of random bytes grows a bit
    for base in urls:
        url = base.rstrip("/") + "/" + f.filename + ".gz"
        why = _url_allowed(url)
        if why:
            tried.append(f"download {url}: {why}")
            continue
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{f.filename}.", suffix=".part", dir=cache)
        except OSError as exc:
            tried.append(f"download: cannot write to the cache directory {cache} "
                         f"({exc.strerror or exc})")
            return False
        try:
            with os.fdopen(fd, "wb") as out:
                _fetch(url, out, quiet, timeout, deadline, max_bytes)
            _verify(Path(tmp), f, url)
            final = cache / (f.filename + ".gz" if is_gzip(tmp) else f.filename)
            os.replace(tmp, final)
            return True
        except DatasetError as exc:
            tried.append(f"download {url}: {exc}")
        except urllib.error.HTTPError as exc:
            tried.append(f"download {url}: HTTP {exc.code} {exc.reason}")
        except urllib.error.URLError as exc:
            tried.append(f"download {url}: cannot connect ({exc.reason})")
        except TimeoutError:
            tried.append(f"download {url}: timed out after {timeout:g} s")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            tried.append(f"download {url}: {type(exc).__name__}: {exc}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return False


def _fetch(url: str, out, quiet: bool, timeout: float, deadline: float = 600.0,
           max_bytes: int | None = None) -> None:
    """Stream ``url`` into the open binary file ``out`` with a progress line, stopping at
    ``max_bytes`` bytes or after ``deadline`` seconds."""
    import http.client
    import urllib.request

    label = url.rsplit("/", 1)[-1]
    received, total, last = 0, None, 0.0
    stop_at = time.monotonic() + deadline

    def show(final: bool = False) -> None:
        if quiet:
            return
        size = f"{received / 1e6:.1f}"
        if total:
            size += f"/{total / 1e6:.1f} MB ({100 * received // total}%)"
        else:
            size += " MB"
        end = "\n" if final else ""
        sys.stderr.write(f"\rDownloading {label} from {url}: {size}{end}")
        sys.stderr.flush()

    with urllib.request.urlopen(url, timeout=timeout) as resp:
        length = resp.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if total is not None and max_bytes is not None and total > max_bytes:
            raise DatasetError(f"the server announces {total:,} bytes, more than the "
                               f"{max_bytes:,} this file can have; not downloaded")
        try:
            while True:
                chunk = resp.read1(_CHUNK)  # what has arrived, not a full chunk
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
                now = time.monotonic()
                if max_bytes is not None and received > max_bytes:
                    raise DatasetError(f"more than {max_bytes:,} bytes received, more than "
                                       "this file can have; stopped, nothing cached")
                if now > stop_at:
                    raise DatasetError(f"not complete after {deadline:g} s ({received:,} "
                                       "bytes received); stopped, nothing cached")
                if now - last >= _PROGRESS_INTERVAL:
                    show()
                    last = now
        except http.client.IncompleteRead as exc:
            received += len(exc.partial)
            raise DatasetError(f"truncated download: received {received} of {total} bytes") from exc
        finally:
            show(final=True)
    if total is not None and received < total:
        raise DatasetError(f"truncated download: received {received} of {total} bytes")


def _verify(tmp: Path, f: FileSpec, url: str) -> None:
    """Check a downloaded file before it may enter the cache."""
    array, digest = _read_idx_with_digest(tmp, display_name=url.rsplit("/", 1)[-1],
                                          expect_shape=f.shape)
    # A matching hash pins the exact content, so the shape is only checked
    # as the fallback for files whose hash is not known.
    if f.sha256 is None and f.shape is not None and array.shape != tuple(f.shape):
        want = "x".join(map(str, f.shape))
        got = "x".join(map(str, array.shape))
        raise DatasetError(f"expected an array of shape {want}, the file holds {got}")
    if f.sha256 is not None and digest != f.sha256.lower():
        raise DatasetError(
            f"SHA-256 mismatch: decompressed content hashes to {digest}, expected "
            f"{f.sha256} (wrong or damaged file; not cached)"
        )
