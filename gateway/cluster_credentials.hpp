#pragma once

// The credentials the gateway sends to clusters (a cluster's `auth:`), read from files: regular
// files that group and others cannot read or write, holding one line (a trailing newline is
// dropped) of visible ASCII. The client's own credentials never reach a cluster (forward.cpp strips
// them); these replace them.
//
// Thread-safety: current() may be called from any I/O thread; reload() from the control thread
// swaps each cluster's line atomically.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "gateway/config.hpp"
#include "gateway/secret_mask.hpp"

namespace sovgw::gateway {

// One cluster's credential: the field the gateway sends, and its secret's forms, which never
// reach a client (relay.cpp masks them in answers).
struct cluster_credential {
  std::string line;  // `Name: value\r\n`
  secret_forms secret;
};

class cluster_credentials {
 public:
  // Reads every cluster's credential file; throws config_error (files_only) with each problem at
  // the auth: key that names the file, one a line (start-up).
  explicit cluster_credentials(std::shared_ptr<const config> cfg);

  // Re-reads the files (SIGHUP). All or nothing: when any file is bad, every cluster keeps its
  // current credential and the problems are returned, one per line, each at its auth: key.
  [[nodiscard]] std::string reload();

  // Cluster `index`'s credential, or null when it has no auth:.
  [[nodiscard]] std::shared_ptr<const cluster_credential> current(int index) const {
    return lines_[static_cast<std::size_t>(index)].load();
  }

 private:
  std::shared_ptr<const config> cfg_;
  std::unique_ptr<std::atomic<std::shared_ptr<const cluster_credential>>[]> lines_;
};

}  // namespace sovgw::gateway
