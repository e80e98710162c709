// The training process test_crash_safety.cpp kills with SIGKILL: resumes from the newest
// snapshot in DIR (or starts), then trains, snapshotting after every iteration, until killed.
//   lamina_snapshot_writer DIR
#include <cstdio>
#include <exception>

#include "crash_safety.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    lamina::Solver solver = lamina::crash_safety::make_solver(argv[1]);
    std::string state;
    if (lamina::crash_safety::newest_state(argv[1], &state) >= 0) solver.restore(state);
    for (;;) solver.step(1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lamina_snapshot_writer: %s\n", e.what());
    return 1;
  }
}
