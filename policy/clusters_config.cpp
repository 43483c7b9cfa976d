#include "policy/clusters_config.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include "policy/yaml_util.hpp"

namespace sovgw::policy {

bool clusters_result::ok() const noexcept {
  for (const auto& d : diagnostics) {
    if (d.level == severity::error) {
      return false;
    }
  }
  return true;
}

std::vector<cluster_info> parse_clusters_node(const YAML::Node& list, source_pos owner, diagnostics& diags,
                                              std::vector<source_pos>* positions) {
  std::vector<cluster_info> out;
  if (!yaml::expect_list(list, owner, diags, "clusters")) {
    return out;
  }
  std::set<std::string> names;
  for (const auto& item : list) {
    const source_pos pos = yaml::pos_of(item);
    if (!yaml::expect_map(item, pos, diags, "a cluster")) {
      continue;
    }
    cluster_info cluster;
    bool has_name = false;
    bool has_country = false;
    bool has_jurisdiction = false;
    bool has_models = false;
    for (auto it = item.begin(); it != item.end(); ++it) {
      if (!it->first.IsScalar()) {
        continue;
      }
      const std::string key = it->first.Scalar();
      const YAML::Node value = it->second;
      const source_pos kpos = yaml::pos_of(it->first);
      if (key == "name") {
        if (auto v = yaml::scalar(value, kpos, diags, "name")) {
          cluster.name = *v;
          has_name = !v->empty();
          if (has_name && !names.insert(*v).second) {
            diags.error(yaml::pos_of(value), "duplicate cluster name '" + *v + "'");
          }
        }
      } else if (key == "country") {
        if (auto v = yaml::scalar(value, kpos, diags, "country")) {
          const auto id = pack_country(*v);
          if (!id || !is_assigned_country(*id)) {
            diags.error(yaml::pos_of(value),
                        "unknown country code '" + *v + "' (not an ISO 3166-1 alpha-2 code)");
          }
          cluster.country = *v;
          has_country = true;
        }
      } else if (key == "region") {
        if (auto v = yaml::scalar(value, kpos, diags, "region")) {
          cluster.region = *v;
        }
      } else if (key == "operator_jurisdiction") {
        if (auto v = yaml::scalar(value, kpos, diags, "operator_jurisdiction")) {
          cluster.operator_jurisdiction = *v;
          has_jurisdiction = !v->empty();
        }
      } else if (key == "models") {
        for (auto& m : yaml::value_list(value, kpos, diags, "models")) {
          cluster.models.push_back(std::move(m.text));
        }
        has_models = true;
      }
    }
    const std::string label = has_name ? "cluster '" + cluster.name + "'" : "cluster";
    if (!has_name) {
      diags.error(pos, "cluster has no 'name'");
    }
    if (!has_country) {
      diags.error(pos, label + " has no 'country'");
    }
    if (!has_jurisdiction) {
      diags.error(pos, label + " has no 'operator_jurisdiction'");
    }
    if (!has_models) {
      diags.error(pos, label + " has no 'models'");
    }
    out.push_back(std::move(cluster));
    if (positions) {
      positions->push_back(pos);
    }
  }
  return out;
}

clusters_result parse_clusters_text(std::string_view text, const std::string& file_name) {
  diagnostics diags(file_name);
  clusters_result result;
  result.file = file_name;
  const YAML::Node root = yaml::load(text, diags);
  if (root.IsDefined()) {
    if (!root.IsMap()) {
      diags.error(source_pos{1, 1}, "a config file must be a mapping with a 'clusters' list");
    } else if (!root["clusters"]) {
      diags.error(source_pos{1, 1}, "no 'clusters' list in this config file");
    } else {
      result.clusters = parse_clusters_node(root["clusters"], source_pos{1, 1}, diags, &result.positions);
    }
  }
  result.diagnostics = diags.take();
  return result;
}

clusters_result load_clusters_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    clusters_result result;
    result.file = path.string();
    result.diagnostics.push_back({path.string(), {}, severity::error, "cannot open config file"});
    return result;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  return parse_clusters_text(buf.str(), path.string());
}

}  // namespace sovgw::policy
