"""caffe.proto: the two messages pycaffe scripts build by hand (see caffe_pb2)."""
