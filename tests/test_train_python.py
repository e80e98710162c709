"""Models written in Python, trained end to end: an MLP on scikit-learn's real 8x8 digits
with lamina.nn, lamina.optim, lamina.functional and lamina.data reaches >= 97% held out."""

import numpy as np
import pytest

import lamina
import lamina.functional as F
from lamina import data, nn, optim

pytest.importorskip("sklearn")


def test_mlp_on_real_digits_reaches_97_percent():
    lamina.manual_seed(0)
    train = data.SourceDataset("sklearn:digits:train", scale=1 / 16)
    test_x, test_y = data.SourceDataset("sklearn:digits:test", scale=1 / 16).arrays
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    for _ in range(30):
        for x, y in data.DataLoader(train, batch_size=32, shuffle=True, seed=1):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    model.eval()
    with lamina.no_grad():
        pred = np.asarray(model(lamina.tensor(test_x))).argmax(axis=1)
    accuracy = (pred == test_y).mean()
    assert accuracy >= 0.97, accuracy
