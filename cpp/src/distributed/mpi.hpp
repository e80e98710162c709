// The MPI communicator's class, shared by mpi.cpp (the collectives) and mpi_shared.cpp (the
// buckets in shared memory). Built with LAMINA_MPI only.
#pragma once

#include <mpi.h>

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "distributed/backends.hpp"

namespace lamina::dist::detail {

class Mpi final : public Communicator {
 public:
  Mpi();
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const char* backend() const override { return "mpi"; }
  std::unique_ptr<Work> allreduce_async(const Tensor& input, Tensor& output, ReduceOp op) override;
  std::unique_ptr<BucketSet> buckets(const std::vector<BucketSpec>& specs, ReduceOp op) override;  // mpi_shared.cpp
  void broadcast(Tensor& t, int root) override;
  void barrier() override;
  [[noreturn]] void abort(const std::string& message, int code) override;

  // A nonblocking MPI call in flight, waited for with the timeout (distributed.hpp).
  struct Request final : Work {
    Request(Mpi& comm, const Tensor& t, int divide_by, const char* what)
        : comm(comm), tensor(t), divide_by(divide_by), what(what) {}
    ~Request() override;
    bool test() override;
    void wait() override;
    void finish();

    Mpi& comm;
    Tensor tensor;  // kept alive while MPI writes into it
    Tensor input;   // and reads from this (out of place)
    // Runs once when `request` completes, before the Work is done; what it throws is thrown
    // again by every later test() and wait().
    std::function<void()> then;
    std::exception_ptr failed;
    int divide_by;
    const char* what;
    MPI_Request request = MPI_REQUEST_NULL;
    bool done = false;
  };

  // Throws DistributedError naming this rank, `what` and MPI's message unless code is MPI_SUCCESS.
  void check(int code, const char* what) const;
  // A DistributedError whose message names this rank.
  DistributedError error(const std::string& message) const;
  // MPI's message for an error code.
  static std::string error_text(int code);
  MPI_Comm node() const { return node_; }
  int node_size() const { return node_size_; }

 private:
  int count(const Tensor& t, const char* what) const;

  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Comm node_ = MPI_COMM_NULL;  // the ranks on this rank's machine, in world order
  int rank_ = 0, size_ = 1, node_size_ = 1;
};

}  // namespace lamina::dist::detail
