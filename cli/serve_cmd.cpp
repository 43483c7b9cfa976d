#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "audit/keys.hpp"
#include "audit/published_checkpoint.hpp"
#include "cli/commands.hpp"
#include "common/regular_file.hpp"
#include "common/trusted_file.hpp"
#include "gateway/admin_server.hpp"
#include "gateway/cluster_credentials.hpp"
#include "gateway/config.hpp"
#include "gateway/endpoint_geo.hpp"
#include "gateway/geo_tags.hpp"
#include "gateway/log.hpp"
#include "gateway/pipeline.hpp"
#include "gateway/server.hpp"
#include "gateway/tls_buffers.hpp"
#include "gateway/tls_context.hpp"
#include "gateway/upstream_pool.hpp"

namespace sovgw::cli {

namespace {

constexpr const char* serve_usage = R"(usage: sovgw serve [--config FILE]

Runs the gateway. Without --config it uses the embedded default (`sovgw config default` prints it):
the demo's configuration (examples/demo/sovgw.yaml): https://127.0.0.1:8443 with the dev
certificates in certs/out/, the example EU policy, five stand-in clusters, an audit log, signatures
and a demo tenant, with its files under demo/ (`./run.sh demo` creates them). Logs are JSON lines on
stdout. SIGTERM/SIGINT drain; SIGHUP reloads the certificates, the policy, the tenants file, cluster
credentials, the admin token and the geo database, and resolves the endpoint names again.

exit codes: 0 drained and stopped; 2 bad usage or an invalid config (the config, its policy or its
tenants file has errors, or the policy fails its checks against the config); 3 the config file is
missing or unreadable, or start-up failed (a port, certificate, key, geo database or audit log that
cannot be used)
)";

constexpr const char* config_usage = R"(usage: sovgw config check FILE | sovgw config default
  check: validate a config file (certificates and keys loaded, endpoints resolved, the policy
         compiled and checked against the clusters and tenants as serve checks it: invariants
         proved, routes and tenant names cross-checked; its warnings shown) and exit
  default: print the embedded default config

exit codes: 0 ok; 1 the config has errors (a certificate, key or credential file that cannot be used,
an unsafe file mode and a policy that fails its checks among them); 2 bad usage; 3 the config file
is missing, unreadable, not a regular file or over 16 MiB
)";

// A config file's text. Read here, not by gateway::parse_config, so that a file that cannot be read
// (missing, unreadable, not a regular file, over 16 MiB) is exit 3 with the reason, as for every
// other input.
std::string read_config_file(const std::string& path) {
  auto text = read_regular_file(path, max_config_bytes, "configuration file");
  if (!text.is_ok()) {
    throw command_error(exit_environment, fmt::format("{}: {}", path, text.error().message()));
  }
  return std::move(text).value();
}

// Reads and parses a config file; on an invalid config prints why and throws command_error with
// `invalid_exit`.
// A config whose only problems are files it names that cannot be opened is `files_exit`'s instead.
std::shared_ptr<const gateway::config> load_config_file(const std::string& path, int invalid_exit,
                                                        int files_exit) {
  const std::string text = read_config_file(path);
  // Whoever may change the config may drop the policy at the next start, as for the files it names.
  if (std::string problem = others_may_change(path, "the configuration file"); !problem.empty()) {
    throw command_error(invalid_exit, problem);
  }
  try {
    return gateway::parse_config(text, path, gateway::file_checks::check);
  } catch (const gateway::config_error& e) {
    throw command_error(e.files_only() ? files_exit : invalid_exit, e.what());
  }
}

int cmd_serve(const options& o) {
  gateway::defer_hangups_until_running();
  // Before anything makes OpenSSL allocate (OpenSSL takes an allocator only before that).
  if (!gateway::install_tls_buffer_cache()) {
    gateway::log_line("warn", "TLS record buffers are not recycled: OpenSSL allocated before start-up")
        .emit();
  }
  std::shared_ptr<const gateway::config> cfg;
  try {
    cfg = o.has("config") ? load_config_file(o.need("config"), exit_usage, exit_environment)
                          : gateway::parse_config(gateway::embedded_default_config(), "<embedded default>",
                                                  gateway::file_checks::check);
  } catch (const command_error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return e.exit_code();
  } catch (const gateway::config_error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return e.files_only() ? exit_environment : exit_usage;
  }
  std::optional<gateway::server> srv;
  try {
    srv.emplace(cfg);  // other start-up failures throw: exit 3 (run_command)
  } catch (const gateway::config_error& e) {
    // A policy or tenants file with errors, a policy check (2); a key or token file the
    // configuration names that is unsafe or unreadable (3).
    std::fprintf(stderr, "%s\n", e.what());
    return e.files_only() ? exit_environment : exit_usage;
  }
  srv->bind();
  return srv->run();
}

int cmd_check(const options& o) {
  const std::string& path = o.positional()[0];
  std::shared_ptr<const gateway::config> cfg;
  try {
    cfg = load_config_file(path, exit_failed, exit_failed);
  } catch (const command_error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return e.exit_code();
  }
  std::fputs(policy::format_diagnostics(cfg->warnings).c_str(), stderr);
  // Then each part serve loads, each on its own: one run names every problem (four files with
  // unsafe modes are four lines, not four runs).
  bool failed = false;
  const auto step = [&](auto&& load) {
    try {
      load();
      return true;
    } catch (const gateway::config_error& e) {
      std::fprintf(stderr, "%s\n", e.what());  // file:line:col, one a line
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), e.what());
    }
    failed = true;
    return false;
  };
  step([&] { (void)gateway::make_server_context(cfg->tls); });
  step([&] { const gateway::cluster_credentials credentials(cfg); });  // reads and checks auth: files
  step([&] {
    auto upstreams = gateway::build_upstreams(*cfg);
    const gateway::endpoint_geo_report geo = gateway::check_endpoint_geo(*cfg, upstreams);
    std::fputs(geo.text().c_str(), stdout);
    // At the cluster's first endpoint (all of them were refused), file:line:col as every other
    // config error.
    for (std::size_t ci = 0; ci < geo.cluster_reasons.size(); ++ci) {
      const std::string& reason = geo.cluster_reasons[ci];
      if (reason.empty()) {
        continue;
      }
      const policy::source_pos at = cfg->clusters[ci].endpoints.empty()
                                        ? policy::source_pos{}
                                        : cfg->clusters[ci].endpoints.front().pos;
      if (at.line > 0) {
        std::fprintf(stderr, "%s:%d:%d: %s\n", path.c_str(), at.line, at.column, reason.c_str());
      } else {
        std::fprintf(stderr, "%s: %s\n", path.c_str(), reason.c_str());
      }
      failed = true;
    }
  });
  std::string policy_version;
  step([&] {
    gateway::pipeline stages(cfg);  // compiles the policy, if any, and checks it as serve does
    std::fputs(policy::format_diagnostics(stages.policy_warnings()).c_str(), stderr);
    policy_version = stages.policy_version();
  });
  step([&] { const gateway::geo_tagger tagger(*cfg); });  // reads the signing keys, if any
  // The audit log's keys and the admin token, as serve loads them (permissions, the auditor's key
  // kept off the gateway, the token's length); the log itself is not opened (a running gateway
  // holds its writer lock).
  if (!cfg->audit_keys.empty()) {
    step([&] {
      std::optional<audit::writer_keys> keys;
      try {
        keys.emplace(audit::load_writer_keys(cfg->audit_keys));
      } catch (const std::exception& e) {
        throw gateway::config_error(cfg->at("audit.keys", fmt::format("audit.keys: {}", e.what())));
      }
      // The checkpoint the log published beside its store, as the writer reads it when it opens
      // (a FIFO or a file that is not this log's stops the gateway from starting).
      const auto published = audit::read_published_checkpoint(audit::published_checkpoint_path(cfg->audit_db),
                                                              keys->signer.verifier());
      if (!published.is_ok()) {
        throw std::runtime_error(fmt::format("audit.db: {}", published.error().message()));
      }
    });
  }
  if (!cfg->admin_token_file.empty()) {
    step([&] { (void)gateway::load_admin_token(*cfg); });
  }
  if (failed) {
    return exit_failed;
  }
  std::printf("%s: ok (listen %s:%u, %zu cluster%s, certificates and keys loaded%s%s)\n", path.c_str(),
              cfg->listen_address.c_str(), cfg->listen_port, cfg->clusters.size(),
              cfg->clusters.size() == 1 ? "" : "s", cfg->policy_file.empty() ? "" : ", policy ",
              policy_version.c_str());
  return exit_ok;
}

int cmd_default(const options&) {
  std::fputs(std::string(gateway::embedded_default_config()).c_str(), stdout);
  return exit_ok;
}

const subcommand serve_command{"serve", serve_usage, {.valued = {"config"}}, cmd_serve};

const subcommand config_subcommands[] = {
    {"check",
     config_usage,
     {.min_positional = 1, .max_positional = 1, .arguments = "exactly one config FILE"},
     cmd_check},
    {"default", config_usage, {}, cmd_default},
};

}  // namespace

int run_serve(args_t args) { return run_command("serve", serve_command, args); }

int run_config(args_t args) { return run_family("config", config_usage, args, config_subcommands); }

}  // namespace sovgw::cli
