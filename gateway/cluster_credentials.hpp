#pragma once

// The credentials the gateway sends to clusters (a cluster's `auth:`), read from files: regular
// files that group and others cannot read or write, holding one line (a trailing newline is
// dropped) of visible ASCII. The client's own credentials never reach a cluster (forward.cpp strips
// them); these replace them.
//
// Thread-safety: header_line() may be called from any I/O thread; reload() from the control thread
// swaps each cluster's line atomically.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "gateway/config.hpp"

namespace sovgw::gateway {

class cluster_credentials {
 public:
  // Reads every cluster's credential file; throws config_error (files_only) with each problem at
  // the auth: key that names the file, one a line (start-up).
  explicit cluster_credentials(std::shared_ptr<const config> cfg);

  // Re-reads the files (SIGHUP). All or nothing: when any file is bad, every cluster keeps its
  // current credential and the problems are returned, one per line, each at its auth: key.
  [[nodiscard]] std::string reload();

  // `Name: value\r\n` for cluster `index`, or null when it has no auth:.
  [[nodiscard]] std::shared_ptr<const std::string> header_line(int index) const {
    return lines_[static_cast<std::size_t>(index)].load();
  }

 private:
  std::shared_ptr<const config> cfg_;
  std::unique_ptr<std::atomic<std::shared_ptr<const std::string>>[]> lines_;
};

}  // namespace sovgw::gateway
