#pragma once

// What /readyz says of the files whose last SIGHUP reload failed: the gateway still serves the last
// good one (the answer stays 200), and a line per file says which and why, until a later reload of
// that file succeeds. Thread-safe: written by the reload thread, read by the admin listener.

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sovgw::gateway {

class reload_failures {
 public:
  // The last reload of `what` ("policy", "tenants", "geo database", ...) failed: `serving` says
  // what stays in force ("version 1a2b..."), `file` what failed to load, `errors` why (its first
  // line is kept). Replaces an earlier failure of `what`.
  void failed(std::string_view what, std::string_view serving, std::string_view file,
              std::string_view errors);
  // The last reload of `what` put the file in force (or found it unchanged): its line goes.
  void succeeded(std::string_view what);
  // One line per failure, in the order they first failed:
  // "policy: serving version <v>; <file> failed to load at <time>: <first error>\n".
  [[nodiscard]] std::string text() const;

 private:
  struct failure {
    std::string what;
    std::string line;
  };
  mutable std::mutex mutex_;  // guards failures_
  std::vector<failure> failures_;
};

}  // namespace sovgw::gateway
