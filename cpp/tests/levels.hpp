// Kernel tests run once per CPU level this machine has (lamina::available_isas()): a test
// written TEST_P(AtEachLevel, Name) runs with each level active in turn, so CI on any host
// covers every path that host can run.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "lamina/cpu.hpp"

namespace lamina {

class AtEachLevel : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    before_ = active_isa();
    set_isa(GetParam());
  }
  void TearDown() override { set_isa(before_); }

 private:
  Isa before_ = Isa::generic;
};

inline std::string level_name(const ::testing::TestParamInfo<Isa>& info) { return isa_name(info.param); }

// How GoogleTest prints a level in a failure's message ("avx2", not "1-byte object <01>").
inline void PrintTo(Isa isa, std::ostream* os) { *os << isa_name(isa); }

}  // namespace lamina

// One instantiation per test file (each file's suite is its own fixture name).
#define LAMINA_AT_EACH_LEVEL(Suite)                                                                 \
  class Suite : public ::lamina::AtEachLevel {};                                                    \
  INSTANTIATE_TEST_SUITE_P(Cpu, Suite, ::testing::ValuesIn(::lamina::available_isas()), ::lamina::level_name)
