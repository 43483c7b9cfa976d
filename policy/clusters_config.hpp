#pragma once

#include <filesystem>
#include <string_view>
#include <vector>

#include "policy/diagnostics.hpp"
#include "policy/policy.hpp"

namespace YAML {
class Node;
}

// Reads the `clusters:` list of a gateway config file (other top-level keys and unknown per-cluster
// keys are ignored: the gateway validates its own config). Each cluster needs name, country,
// operator_jurisdiction and models; region is optional. Errors carry `file:line:col`.
namespace sovgw::policy {

struct clusters_result {
  std::string file;
  std::vector<cluster_info> clusters;
  std::vector<source_pos> positions;  // where each cluster is defined
  std::vector<diagnostic> diagnostics;

  [[nodiscard]] bool ok() const noexcept;
};

[[nodiscard]] clusters_result load_clusters_file(const std::filesystem::path& path);
[[nodiscard]] clusters_result parse_clusters_text(std::string_view text, const std::string& file_name);

// The list itself (used for inline `clusters:` in policy test files).
[[nodiscard]] std::vector<cluster_info> parse_clusters_node(const YAML::Node& list, source_pos owner,
                                                            diagnostics& diags,
                                                            std::vector<source_pos>* positions);

}  // namespace sovgw::policy
