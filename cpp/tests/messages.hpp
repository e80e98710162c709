// The message of an expected exception, for tests that check what an error says.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace lamina {

// The message of the E that f throws (a test failure if it throws nothing).
template <class E, class F>
std::string message_of(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

}  // namespace lamina
