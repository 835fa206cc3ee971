"""Every collective on 2+ ranks, checked on every rank (run under mpirun)."""

import numpy as np

import gradkit as gk
import gradkit.distributed as dist

dist.init(timeout=60)
r, n = dist.rank(), dist.world_size()
assert n > 1 and 0 <= r < n and dist.is_main_process() == (r == 0)
assert dist.get_rank() == r and dist.local_rank() == r  # one machine

a = np.full((3, 2), r + 1.0)
assert dist.all_reduce(a) is a
np.testing.assert_array_equal(a, np.full((3, 2), n * (n + 1) / 2))

t = gk.Tensor(np.arange(4.0) * (r + 1))
v = t._version
dist.all_reduce(t, op="mean")
np.testing.assert_allclose(t.numpy(), np.arange(4.0) * (n + 1) / 2)
assert t._version == v + 1

mixed = [np.full(5, float(r), np.float32), None, np.full((2, 2), r, np.int64),
         np.asfortranarray(np.full((3, 4), float(r)))]
dist.all_reduce(mixed, op="max")
assert mixed[1] is None and mixed[0].dtype == np.float32
assert (mixed[0] == n - 1).all() and (mixed[2] == n - 1).all() and (mixed[3] == n - 1).all()
m = [np.full(3, float(r))]
dist.all_reduce(m, op="min")
assert (m[0] == 0).all()

b = np.full(4, float(r))
dist.broadcast(b, src=n - 1)
assert (b == n - 1).all()
ws = [gk.Variable(np.full((2, 3), float(r))), gk.Variable(np.full(7, float(r)))]
dist.broadcast(ws)
assert all((w.numpy() == 0).all() for w in ws)

parts = dist.all_gather(np.full((r + 1, 2), float(r)))  # uneven first axes
assert [p.shape for p in parts] == [(i + 1, 2) for i in range(n)]
assert all((p == i).all() for i, p in enumerate(parts))
gathered = dist.all_gather(gk.Tensor(np.float32(r)))
assert [float(g.numpy()) for g in gathered] == list(map(float, range(n)))

try:
    dist.all_reduce(np.arange(3), op="mean")
    raise AssertionError("integer mean accepted")
except TypeError as e:
    assert "floating-point" in str(e)
dist.barrier()
if r == 0:
    print("collectives ok on", n, "ranks")
