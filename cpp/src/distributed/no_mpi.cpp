// Built without MPI (LAMINA_MPI=OFF): every process is a world of its own.
#include "distributed/backends.hpp"

namespace lamina::dist {

namespace detail {

std::unique_ptr<Communicator> make_mpi() { return nullptr; }
bool launched_by_mpi() { return false; }

}  // namespace detail

bool mpi_built() { return false; }
std::string mpi_version() { return ""; }

}  // namespace lamina::dist
