"""The fast paths of the recording loops compute what the plain loops compute."""

import numpy as np
import pytest
import torch

from rnnviz.core.cells import loops


def _sequential(keep, add, d):
    out, m = np.empty_like(add), np.zeros_like(add[0])
    for t in (range(len(add) - 1, -1, -1) if d else range(len(add))):
        m = keep[t] * m + add[t]
        out[t] = m
    return out


@pytest.mark.parametrize("shape", [(200, 1, 64), (9, 2, 3), (33, 4, 5), (7, 1, 3), (40, 32, 128)])
@pytest.mark.parametrize("d", [0, 1])
def test_scan_memory_matches_the_sequential_scan(shape, d):
    rng = np.random.default_rng(sum(shape) + d)
    keep = rng.random(shape, dtype=np.float32)
    keep[shape[0] // 2] = 0.0  # a closed gate: nothing before it survives
    add = rng.standard_normal(shape, dtype=np.float32)
    got = loops.scan_memory(torch.from_numpy(keep), torch.from_numpy(add), d)
    assert got.shape == shape and got.is_contiguous()
    np.testing.assert_allclose(got.numpy(), _sequential(keep, add, d), rtol=2e-6, atol=1e-6)


def test_scan_memory_keeps_nan_where_the_sequential_scan_has_it():
    keep = np.full((50, 1, 8), 0.9, np.float32)
    add = np.ones((50, 1, 8), np.float32)
    keep[20, 0, 3] = np.nan
    got = loops.scan_memory(torch.from_numpy(keep), torch.from_numpy(add), 0).numpy()
    want = _sequential(keep, add, 0)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)], rtol=2e-6)
