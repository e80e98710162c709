"""lamina.data's Dataset / DataLoader: batches, shuffling (seeded per epoch), drop_last,
background prefetch, real sources, errors raised in the consumer."""

import numpy as np
import pytest

import lamina
from lamina import data


def arrays(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.float64) * 10
    return x, y


@pytest.mark.parametrize("prefetch", [0, 2])
def test_batches_in_order_cover_everything(prefetch):
    x, y = arrays()
    loader = data.DataLoader(data.TensorDataset(x, y), batch_size=4, prefetch=prefetch)
    batches = list(loader)
    assert len(loader) == 3 and [b[0].shape for b in batches] == [(4, 3), (4, 3), (2, 3)]
    np.testing.assert_array_equal(np.concatenate([np.asarray(b[0]) for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([np.asarray(b[1]) for b in batches]), y)
    assert isinstance(batches[0][0], lamina.Tensor) and batches[0][1].dtype == np.float64


def test_in_order_batches_share_the_arrays_memory():
    x, y = arrays()
    (bx, _), *_ = data.DataLoader(data.TensorDataset(x, y), batch_size=5, prefetch=0)
    assert np.shares_memory(np.asarray(bx), x)


def test_shuffle_is_a_seeded_permutation_per_epoch_and_drop_last():
    x, y = arrays(11)
    loader = data.DataLoader((x, y), batch_size=3, shuffle=True, drop_last=True, seed=5)
    assert len(loader) == 3
    e0 = np.concatenate([np.asarray(b[1]) for b in loader])
    e1 = np.concatenate([np.asarray(b[1]) for b in loader])
    assert len(e0) == 9 and len(set(e0)) == 9 and not np.array_equal(e0, e1)
    again = data.DataLoader((x, y), batch_size=3, shuffle=True, drop_last=True, seed=5)
    np.testing.assert_array_equal(np.concatenate([np.asarray(b[1]) for b in again]), e0)
    again.set_epoch(1)  # resuming at epoch 1 gives epoch 1's order
    np.testing.assert_array_equal(np.concatenate([np.asarray(b[1]) for b in again]), e1)
    rows = {tuple(r) for b in data.DataLoader((x, y), batch_size=3, shuffle=True, seed=5) for r in np.asarray(b[0])}
    assert rows == {tuple(r) for r in x}  # rows stay paired with nothing lost


def test_item_datasets_are_stacked():
    class Squares(data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.full(2, i, np.float32), float(i * i)

    (a, b), (c, d) = list(data.DataLoader(Squares(), batch_size=3))
    np.testing.assert_array_equal(np.asarray(a), [[0, 0], [1, 1], [2, 2]])
    np.testing.assert_array_equal(np.asarray(d), [9.0, 16.0])


def test_real_digits_source():
    pytest.importorskip("sklearn")
    ds = data.SourceDataset("sklearn:digits:test", scale=1 / 16)
    x, y = ds.arrays
    assert x.shape[1:] == (1, 8, 8) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10)) and len(ds) == len(y)


def test_errors():
    with pytest.raises(lamina.ShapeError, match="array 1"):
        data.TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(lamina.InvalidValueError, match="batch_size"):
        data.DataLoader(data.TensorDataset(np.zeros(3)), batch_size=0)

    class Broken(data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            raise KeyError(f"record {i} is bad")

    with pytest.raises(KeyError, match="record 0"):  # raised on the background thread, seen here
        list(data.DataLoader(Broken(), batch_size=2))
