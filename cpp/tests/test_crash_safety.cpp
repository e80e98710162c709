// A training process killed with SIGKILL at random moments while it snapshots, 100 times,
// each restart resuming from the newest snapshot (issue #22): every snapshot that exists
// loads, and the newest resumes bit-identically (its weights, and those 5 steps later, equal
// an uninterrupted run's).
#include <gtest/gtest.h>

#include <lamina/solver.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <signal.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "crash_safety.hpp"

namespace lamina {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// lamina_snapshot_writer DIR (through the build's emulator when cross-built), as a process
// of its own: the shell execs it, so the pid is the writer's.
pid_t spawn_writer(const std::string& dir) {
  const std::string command = std::string("exec ") + LAMINA_SNAPSHOT_WRITER_COMMAND + " '" + dir + "'";
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Whether a write is under way in dir (its temporary file exists).
bool writing(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".tmp") return true;
  return false;
}

std::vector<std::vector<char>> weights_of(Solver& solver) {
  std::vector<std::vector<char>> out;
  for (const auto& p : solver.net().learnable_params()) {
    const Tensor v = p.value.contiguous();
    const char* bytes = static_cast<const char*>(v.raw_data());
    out.emplace_back(bytes, bytes + v.numel() * dtype_size(v.dtype()));
  }
  return out;
}

TEST(CrashSafety, KilledWhileSnapshottingHundredTimes) {
  const fs::path dir = fs::temp_directory_path() / ("lamina-crash-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::mt19937 rng(2026);
  std::uniform_int_distribution<int> after_us(0, 20000);
  Solver checker = crash_safety::make_solver(dir.string());
  int kills = 0, cut_writes = 0;
  for (; kills < 100; ++kills) {
    const int before = crash_safety::newest_state(dir.string());
    const pid_t pid = spawn_writer(dir.string());
    ASSERT_GT(pid, 0);
    // Once it has written a snapshot of its own it is in its loop: every other kill comes a
    // random moment later (over about two iterations), the others the moment a temporary
    // file shows that a snapshot is being written.
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (crash_safety::newest_state(dir.string()) <= before) {
      int status = 0;
      ASSERT_EQ(waitpid(pid, &status, WNOHANG), 0) << "the writer exited by itself (status " << status << ")";
      ASSERT_LT(Clock::now(), deadline) << "the writer made no snapshot in 60 s";
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (kills % 2 == 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(after_us(rng)));
    } else {
      while (!writing(dir) && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
    // Every state file that exists loads with its weights; the older ones are then removed
    // (each run writes 2 MB an iteration). A temporary file left behind is a write the kill
    // cut short.
    const int newest = crash_safety::newest_state(dir.string());
    bool cut = false;
    for (const auto& entry : fs::directory_iterator(dir)) {
      const fs::path path = entry.path();
      if (path.extension() == ".tmp") {
        cut = true;
        fs::remove(path);
        continue;
      }
      const int iter = crash_safety::state_iter(path.filename().string());
      if (iter < 0) continue;
      EXPECT_NO_THROW(checker.restore(path.string())) << path << " after kill " << kills;
      if (iter < newest) {
        fs::remove(path);
        fs::remove(fs::path(path).replace_extension(".safetensors"));
      }
    }
    cut_writes += cut;
  }
  // Half the kills aimed at a write in progress: most of those cut one short.
  EXPECT_GE(cut_writes, 10) << "kills that cut a write short";
  std::printf("killed %d times, %d of them inside a write\n", kills, cut_writes);
  std::string newest_path;
  const int newest = crash_safety::newest_state(dir.string(), &newest_path);
  ASSERT_GT(newest, kills) << "each run made at least one snapshot";

  // The uninterrupted run first: the solvers of a process share lamina's generator, which
  // a restore sets.
  fs::create_directories(dir / "resumed");
  Solver whole = crash_safety::make_solver((dir / "whole").string(), false);
  while (whole.iter() < newest) whole.step(1);
  const auto whole_at_newest = weights_of(whole);
  whole.step(5);
  const auto whole_after = weights_of(whole);
  Solver resumed = crash_safety::make_solver((dir / "resumed").string());
  resumed.restore(newest_path);
  EXPECT_EQ(weights_of(resumed), whole_at_newest) << "at iteration " << newest;
  resumed.step(5);
  EXPECT_EQ(weights_of(resumed), whole_after) << "5 iterations after " << newest;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace lamina
