#pragma once

// The gateway process: workers (one io_context and acceptor per thread, on one listening socket), the admin
// listener, and a control thread for signals (SIGTERM/SIGINT drain at once; SIGHUP asks the reload
// thread, gateway/reload_thread.hpp, to reload certificates, cluster credentials, the admin token,
// the geo database and the tenants file, to recompile and check the policy, and to ask the endpoint
// refresher's resolver thread for a round: neither a slow reload nor DNS blocks the control thread or an I/O
// thread).
// Control plane: the constructor and bind() throw std::runtime_error on bad certificates, keys or
// addresses; run() only returns after a drain.

#include <array>
#include <memory>
#include <stop_token>
#include <thread>
#include <vector>

#include "gateway/config.hpp"
#include "gateway/worker.hpp"

namespace sovgw::gateway {

// Until server::run listens for signals, a SIGHUP (whose default action ends the process) is only
// noted, and run() reloads once it listens: a reload hook that fires while a gateway starts (a
// policy's proofs take seconds) must not stop it without a word (probe round 44: exit 129).
// Call first thing in `serve`.
void defer_hangups_until_running();

class server {
 public:
  explicit server(std::shared_ptr<const config> cfg);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds the listeners (port 0 picks a free port; see port()).
  void bind();
  // Serves until SIGTERM or SIGINT, then drains within timeouts.drain. Returns the exit code.
  int run();

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::uint16_t admin_port() const { return admin_port_; }

 private:
  void begin_drain();
  void reload_certificates();
  // Reloads the policy file (pipeline::reload_policy), saying in the log that it has begun: its
  // compilation and proofs take seconds for a large policy. `with`: against that tenants table,
  // else the one in force (`retry`: again, after it failed against a new tenants file). Returns
  // its errors.
  [[nodiscard]] std::string reload_policy(std::stop_token stop, const tenants::table* with = nullptr,
                                          bool retry = false);
  // Says how a policy reload ended (`errors` its result).
  void report_policy(std::stop_token stop, const std::string& errors);
  bool policy_unchanged_ = false;  // the last reload_policy found the file unchanged (reload thread only)
  void log_policy_warnings();
  // Says (warn) when the configuration file is no longer what the gateway started with.
  void warn_if_config_changed();
  // Says (warn) when a key file read at start only (signing.key, signing.cluster_hmac_keys,
  // signing.publish, the audit log's keys) no longer holds what the gateway uses
  // (docs/signatures.md and docs/auditing.md, rotation).
  void warn_if_start_keys_changed();
  // Checks the files read at start only (the configuration file, the signing and audit keys) as a
  // start would, and says (error, sovgw_restart_check_problems) what a restart would refuse: a
  // key made readable by others is found now, not at the next start.
  void check_start_files();
  struct key_file {
    std::string setting;  // "signing.key", "signing.cluster_hmac_keys.<cluster>", "audit.keys"
    std::string path;
    std::array<std::uint8_t, 32> sha256{};
  };
  std::vector<key_file> start_key_files_;  // as read at start
  void reload_tenants_and_policy(std::stop_token stop);
  // The tenants `next` declares that the live tenants file does not.
  [[nodiscard]] std::vector<std::string> tenants_added(const tenants::table& next) const;
  void reload_credentials();
  void reload_admin_token();
  // Re-reads the geo database (gateway/geo_store.hpp) before the endpoints are judged again.
  void reload_geo_database();
  void reload_endpoints(const char* trigger);

  shared_state state_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::unique_ptr<tcp::acceptor> admin_acceptor_;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
};

}  // namespace sovgw::gateway
