#pragma once

// The fuzz targets' assertion: abort (a crash libFuzzer and the corpus driver report) when an
// invariant does not hold, in every build type.
#include <cstdlib>

namespace sovgw::fuzz {

inline void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

}  // namespace sovgw::fuzz
