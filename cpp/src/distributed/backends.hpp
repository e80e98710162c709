// The communicators behind dist::world() (world.cpp picks one).
#pragma once

#include <memory>

#include "lamina/distributed.hpp"

namespace lamina::dist::detail {

// A world of one process: collectives leave the tensor as it is.
std::unique_ptr<Communicator> make_single();

// MPI's world, joining MPI when needed; nullptr when lamina was built without MPI.
std::unique_ptr<Communicator> make_mpi();
bool launched_by_mpi();  // an MPI launcher's environment, or MPI already initialized

// The checks every collective makes on its tensor (ValueError naming `what`).
void check_tensor(const Tensor& t, const char* what, bool reduce_mean);
// check_tensor on both sides of an allreduce, and that they match; false: in place.
bool check_allreduce(const Tensor& input, const Tensor& output, ReduceOp op);

// BucketSet's shared rules (buckets.cpp): specs of floating buckets whose pieces add up;
// bucket b's spec (IndexError past the last); pieces that match a spec (ShapeError); and
// the pieces copied one after another into a bucket's flat tensor.
void check_specs(const std::vector<BucketSpec>& specs);
const BucketSpec& spec_of(const std::vector<BucketSpec>& specs, size_t b);
void check_pieces(const BucketSpec& spec, const std::vector<Tensor>& pieces);
void gather(const BucketSpec& spec, const std::vector<Tensor>& pieces, Tensor& flat);

}  // namespace lamina::dist::detail
