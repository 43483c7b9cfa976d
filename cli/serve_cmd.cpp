#include <fmt/format.h>

#include <cstdio>
#include <string>

#include "cli/commands.hpp"
#include "gateway/config.hpp"
#include "gateway/pipeline.hpp"
#include "gateway/server.hpp"
#include "gateway/tls_context.hpp"
#include "gateway/upstream_pool.hpp"

namespace sovgw::cli {

namespace {

constexpr const char* serve_usage = R"(usage: sovgw serve [--config FILE]

Runs the gateway. Without --config it uses the embedded default (`sovgw config default` prints it):
https://127.0.0.1:8443 with the dev certificates in certs/out/, in front of the stand-in cluster on
127.0.0.1:9443. Logs are JSON lines on stdout. SIGTERM/SIGINT drain, SIGHUP reloads certificates.
)";

std::shared_ptr<const gateway::config> load(const std::string& path) {
  if (path.empty()) {
    return gateway::parse_config(gateway::embedded_default_config(), "<embedded default>");
  }
  return gateway::load_config(path);
}

}  // namespace

int run_serve(args_t args) {
  std::string path;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      path = std::string(args[++i]);
    } else if (args[i] == "--help" || args[i] == "-h") {
      std::fputs(serve_usage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "sovgw serve: unexpected argument '%.*s'\n\n%s", static_cast<int>(args[i].size()),
                   args[i].data(), serve_usage);
      return 2;
    }
  }
  std::shared_ptr<const gateway::config> cfg;
  try {
    cfg = load(path);
  } catch (const gateway::config_error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  try {
    gateway::server srv(cfg);
    srv.bind();
    return srv.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sovgw serve: %s\n", e.what());
    return 2;
  }
}

int run_config(args_t args) {
  if (args.size() == 1 && args[0] == "default") {
    std::fputs(std::string(gateway::embedded_default_config()).c_str(), stdout);
    return 0;
  }
  if (args.size() != 2 || args[0] != "check") {
    std::fputs("usage: sovgw config check FILE | sovgw config default\n", stderr);
    return 2;
  }
  const std::string path(args[1]);
  try {
    auto cfg = gateway::load_config(path);
    auto server_tls = gateway::make_server_context(cfg->tls);
    auto upstreams = gateway::build_upstreams(*cfg);
    gateway::pipeline stages(cfg);  // compiles the policy, if any
    std::printf("%s: ok (listen %s:%u, %zu cluster%s, certificates and keys loaded%s%s)\n", path.c_str(),
                cfg->listen_address.c_str(), cfg->listen_port, cfg->clusters.size(),
                cfg->clusters.size() == 1 ? "" : "s", cfg->policy_file.empty() ? "" : ", policy ",
                stages.policy_version().c_str());
    return 0;
  } catch (const gateway::config_error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), e.what());
    return 1;
  }
}

}  // namespace sovgw::cli
