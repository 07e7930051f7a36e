#pragma once
// Expecting a kestrel::Error whose message contains a given text.
#include <gtest/gtest.h>

#include <string>

#include "kernels/common/error.hpp"

namespace kestrel::test {

// Runs `f`; adds a failure unless it throws kestrel::Error with `text` in its message.
template <class F>
void expect_error(F&& f, const std::string& text) {
  try {
    f();
    ADD_FAILURE() << "expected kestrel::Error containing: " << text;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

}  // namespace kestrel::test
