"""Downloads from a real HTTP server on 127.0.0.1: verification and clean failure."""

import gzip
import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from gradkit.datasets import DatasetError, _files, _mnist_like, mnist, write_idx
from gradkit.datasets.idx import read_idx

NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


class Server:
    """A tiny file server. ``routes`` maps a URL path to (body, mode)."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests.append(self.path)
                if self.path not in owner.routes:
                    self.send_error(404, "Not Found")
                    return
                body, mode = owner.routes[self.path]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "short":  # promise the whole body, send half, hang up
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                else:
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def closed_port_url():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/mirror/"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GRADKIT_DATA", raising=False)
    monkeypatch.setenv("GRADKIT_MIRRORS", "")
    monkeypatch.setattr(_files, "SYSTEM_DATA_DIR", tmp_path / "system")
    monkeypatch.setenv("GRADKIT_ALLOW_HTTP_LOCALHOST", "1")  # the local test server


@pytest.fixture
def synthetic(tmp_path, monkeypatch):
    """Small MNIST-format gzip files and their SHA-256s registered in ``mnist.SHA256``."""
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, 6, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, 4, dtype=np.uint8),
    }
    blobs, shas = {}, {}
    for key, arr in arrays.items():
        path = write_idx(tmp_path / f"{key}.gz", arr)
        blobs[key] = path.read_bytes()
        shas[key] = hashlib.sha256(gzip.decompress(blobs[key])).hexdigest()
    monkeypatch.setattr(mnist, "SHA256", shas)
    monkeypatch.setattr(_mnist_like, "SPLIT_SIZES", {"train": 6, "test": 4})
    return arrays, blobs


def cache(tmp_path):
    return tmp_path / "cache" / "gradkit" / "mnist"


def cached_files(tmp_path):
    d = cache(tmp_path)
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def serve_all(server, blobs, prefix="/m/", modes=None):
    for key, blob in blobs.items():
        server.routes[f"{prefix}{NAMES[key]}.gz"] = (blob, (modes or {}).get(key, "ok"))
    return server.url + prefix


def test_good_download_is_cached_and_loaded(tmp_path, server, synthetic, capsys):
    arrays, blobs = synthetic
    base = serve_all(server, blobs)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(mirrors=[base])
    np.testing.assert_array_equal(x_train, arrays["train_images"])
    np.testing.assert_array_equal(y_test, arrays["test_labels"])
    assert cached_files(tmp_path) == sorted(f"{n}.gz" for n in NAMES.values())
    assert "Downloading train-images-idx3-ubyte.gz from" in capsys.readouterr().err

    n_requests = len(server.requests)
    mnist.load_data(mirrors=[base])  # second call: served from the cache
    assert len(server.requests) == n_requests


def test_env_mirrors_and_fallback_to_second_mirror(tmp_path, server, synthetic, monkeypatch):
    _, blobs = synthetic
    good = serve_all(server, blobs, prefix="/good/")
    monkeypatch.setenv("GRADKIT_MIRRORS", f"{server.url}/missing/, {good}")
    x_test, _ = mnist.load_test_data(quiet=True)
    assert x_test.shape == (4, 28, 28)
    assert f"/missing/{NAMES['test_images']}.gz" in server.requests
    assert cached_files(tmp_path) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_only_missing_files_are_downloaded(tmp_path, server, synthetic):
    _, blobs = synthetic
    base = serve_all(server, blobs)
    d = cache(tmp_path)
    d.mkdir(parents=True)
    (d / "t10k-images-idx3-ubyte.gz").write_bytes(blobs["test_images"])
    (d / "t10k-labels-idx1-ubyte.gz").write_bytes(blobs["test_labels"])
    mnist.load_data(mirrors=[base], quiet=True)
    assert sorted(server.requests) == [
        "/m/train-images-idx3-ubyte.gz",
        "/m/train-labels-idx1-ubyte.gz",
    ]


def test_connection_cut_short_leaves_cache_empty(tmp_path, server, synthetic):
    _, blobs = synthetic
    base = serve_all(server, blobs, modes={"train_images": "short"})
    with pytest.raises(DatasetError) as info:
        mnist.load_data(mirrors=[base], quiet=True)
    msg = str(info.value)
    assert f"download {base}train-images-idx3-ubyte.gz: truncated download" in msg
    assert cached_files(tmp_path) == []


def test_truncated_gzip_never_enters_cache(tmp_path, server, synthetic):
    _, blobs = synthetic
    blobs = dict(blobs, train_labels=blobs["train_labels"][:-12])
    base = serve_all(server, blobs)
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte.gz is not a valid gzip"):
        mnist.load_data(mirrors=[base], quiet=True)
    # the file verified before the bad one may stay; the bad one never enters
    assert cached_files(tmp_path) == ["train-images-idx3-ubyte.gz"]


def test_truncated_raw_payload_leaves_cache_empty(tmp_path, server, synthetic):
    arrays, blobs = synthetic
    raw = gzip.decompress(blobs["test_images"])
    blobs = dict(blobs, test_images=gzip.compress(raw[:-50]))
    base = serve_all(server, blobs)
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz is truncated: header says"):
        mnist.load_test_data(mirrors=[base], quiet=True)
    assert cached_files(tmp_path) == []


def test_sha_mismatch_leaves_cache_empty(tmp_path, server, synthetic):
    arrays, blobs = synthetic
    wrong = write_idx(tmp_path / "wrong.gz", arrays["test_images"] ^ 1).read_bytes()
    base = serve_all(server, dict(blobs, test_images=wrong))
    with pytest.raises(DatasetError) as info:
        mnist.load_test_data(mirrors=[base], quiet=True)
    assert "SHA-256 mismatch" in str(info.value)
    assert mnist.SHA256["test_images"] in str(info.value)
    assert cached_files(tmp_path) == []
    assert not list(tmp_path.glob("cache/**/*.part"))


def test_html_error_page_is_rejected_not_cached(tmp_path, server, synthetic):
    _, blobs = synthetic
    html = b"<!DOCTYPE html><html><body>Access denied</body></html>"
    base = serve_all(server, dict(blobs, test_labels=html))
    with pytest.raises(DatasetError, match="bad magic .*HTML"):
        mnist.load_test_data(mirrors=[base], quiet=True)
    assert cached_files(tmp_path) == ["t10k-images-idx3-ubyte.gz"]


def test_server_down_lists_every_place(tmp_path, closed_port_url, monkeypatch):
    other = closed_port_url.replace("/mirror/", "/other/")
    with pytest.raises(DatasetError) as info:
        mnist.load_data(mirrors=[closed_port_url, other], quiet=True)
    msg = str(info.value)
    assert "$GRADKIT_DATA: not set" in msg
    assert f"user cache {cache(tmp_path)}: does not exist" in msg
    assert f"system dir {tmp_path / 'system' / 'mnist'}: does not exist" in msg
    for base in (closed_port_url, other):
        assert f"download {base}train-images-idx3-ubyte.gz: cannot connect" in msg
    assert "did not try train-labels-idx1-ubyte[.gz]" in msg
    assert "To supply them by hand" in msg
    assert not cache(tmp_path).exists()


def test_a_file_without_a_pinned_hash_is_never_downloaded(tmp_path, server):
    spec = _files.DatasetSpec(
        name="toyset",
        title="Toy set",
        files=(_files.FileSpec("data", "data-idx1-ubyte", None, (5,)),),
    )
    server.routes["/t/data-idx1-ubyte.gz"] = (
        write_idx(tmp_path / "d.gz", np.arange(5, dtype=np.uint8)).read_bytes(), "ok")
    with pytest.raises(DatasetError, match="refused, no SHA-256 is pinned"):
        _files.locate(spec, mirrors=[server.url + "/t/"], quiet=True)
    assert server.requests == []
    assert not (tmp_path / "cache" / "gradkit" / "toyset").exists()


def test_uncompressed_download_keeps_raw_name(tmp_path, server):
    raw = write_idx(tmp_path / "d", np.arange(3, dtype=np.uint8), gzip=False).read_bytes()
    spec = _files.DatasetSpec("rawset", "Raw set", (_files.FileSpec(
        "d", "d-idx1-ubyte", hashlib.sha256(raw).hexdigest(), (3,)),))
    server.routes["/r/d-idx1-ubyte.gz"] = (raw, "ok")
    found = _files.locate(spec, mirrors=[server.url + "/r/"], quiet=True)
    assert found["d"].name == "d-idx1-ubyte"


# ---------------------------------------------------------------- issue 18: hostile servers
class Hostile:
    """A server that drips one byte every 0.2 s, or sends bytes without end."""

    def __init__(self, mode):
        import time

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()  # no Content-Length: the body never announces its end
                try:
                    for _ in range(100000):
                        if mode == "drip":
                            self.wfile.write(b"\x1f")
                            self.wfile.flush()
                            time.sleep(0.2)
                        else:
                            self.wfile.write(b"\0" * 65536)
                except OSError:  # the client hung up: what we want
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/m/"
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.untrusted
@pytest.mark.parametrize("mode,message", [
    ("endless", r"more than 200,000 bytes received.*stopped, nothing cached"),
    ("drip", r"not complete after 1 s.*stopped, nothing cached"),
])
def test_endless_and_dripping_servers_are_cut_off(tmp_path, synthetic, limits, mode, message):
    server = Hostile(mode)
    try:
        with pytest.raises(DatasetError, match=message):
            mnist.load_test_data(mirrors=[server.url], quiet=True)
    finally:
        server.close()
    assert cached_files(tmp_path) == []


@pytest.fixture
def limits(monkeypatch):
    """Small caps for locate (a 200 kB cap, a 1 s deadline) so hostile servers end quickly."""
    real = _files.locate

    def small(*args, **kwargs):
        kwargs.setdefault("max_bytes", 200_000)
        kwargs.setdefault("deadline", 1.0)
        kwargs.setdefault("timeout", 2.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(_mnist_like, "locate", small)


@pytest.mark.untrusted
def test_plain_http_is_refused_without_the_test_opt_in(tmp_path, server, synthetic,
                                                       monkeypatch):
    monkeypatch.delenv("GRADKIT_ALLOW_HTTP_LOCALHOST")
    url = serve_all(server, synthetic[1])
    with pytest.raises(DatasetError, match=r"refused: only https:// mirrors are used"):
        mnist.load_test_data(mirrors=[url], quiet=True)
    assert server.requests == [] and cached_files(tmp_path) == []
    assert all(m.startswith("https://") for m in mnist.MIRRORS)
    from gradkit.datasets import fashion_mnist

    assert all(m.startswith("https://") for m in fashion_mnist.MIRRORS)
    assert all(mnist.SHA256.values())


@pytest.mark.untrusted
def test_gz_header_is_checked_before_inflating(tmp_path, server, synthetic):
    import tracemalloc

    arrays, blobs = synthetic
    # a well-formed gzip whose header claims 1.3 million images (~1 GB once inflated)
    header = b"\x00\x00\x08\x03" + (1_300_000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    blobs = dict(blobs, test_images=gzip.compress(header + b"\0" * 3_000_000))
    url = serve_all(server, blobs)
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match=r"header says shape 1300000x28x28, expected "
                                               r"4x28x28; not inflated"):
            mnist.load_test_data(mirrors=[url], quiet=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2 ** 20 and cached_files(tmp_path) == []


@pytest.mark.bad_input
@pytest.mark.parametrize("dims,message", [
    ([1] * 70, r"declares 70 dimensions; gradkit reads IDX files of 1 to 32"),
    ([0, 2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1], r"absurd"),
])
def test_idx_dimension_checks(tmp_path, dims, message):
    header = bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    path = tmp_path / "bad-idx"
    path.write_bytes(header)
    with pytest.raises(DatasetError, match=message):
        read_idx(path)


@pytest.mark.bad_input
def test_read_only_cache_is_a_dataset_error(tmp_path, server, synthetic, monkeypatch):
    def read_only(*args, **kwargs):  # what mkstemp meets in a read-only cache (also as root)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_files.tempfile, "mkstemp", read_only)
    url = serve_all(server, synthetic[1])
    with pytest.raises(DatasetError, match=r"cannot write to the cache directory .*"
                                           r"Permission denied"):
        mnist.load_test_data(mirrors=[url], quiet=True)
