#include "gateway/server.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

#include "audit/keys.hpp"
#include "common/regular_file.hpp"
#include "common/trusted_file.hpp"
#include "crypto/hex.hpp"
#include "crypto/key_file.hpp"
#include "crypto/sha256.hpp"
#include "gateway/admin_server.hpp"
#include "gateway/endpoint_distance.hpp"
#include "gateway/endpoint_health.hpp"
#include "gateway/log.hpp"
#include "gateway/reload_thread.hpp"
#include "gateway/session.hpp"

namespace sovgw::gateway {

namespace {

// A diagnostics list ends in a line break; a log field does not need it.
std::string_view without_final_newline(std::string_view s) {
  while (!s.empty() && s.back() == '\n') {
    s.remove_suffix(1);
  }
  return s;
}

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

auto log_exceptions(const char* what) {
  return [what](std::exception_ptr e) {
    if (!e) {
      return;
    }
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log_line("error", what).str("exception", ex.what()).emit();
    }
  };
}

asio::awaitable<void> accept_loop(worker& w) {
  const std::size_t max_connections = w.shared.cfg->max_connections;
  while (true) {
    auto [ec, socket] = co_await w.acceptor.async_accept(nothrow);
    if (ec) {
      if (!w.acceptor.is_open()) {
        co_return;
      }
      // Out of descriptors or memory: back off briefly instead of spinning.
      asio::steady_timer pause(w.ioc, milliseconds(50));
      co_await pause.async_wait(nothrow);
      continue;
    }
    if (w.shared.stats->active_connections.load(std::memory_order_relaxed) >=
        static_cast<std::int64_t>(max_connections)) {
      w.shared.stats->connections_rejected.fetch_add(1, std::memory_order_relaxed);
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    asio::co_spawn(w.ioc, serve_connection(w, std::move(socket)), log_exceptions("session failed"));
  }
}

asio::awaitable<void> admin_accept_loop(worker& w, tcp::acceptor& acceptor) {
  while (true) {
    auto [ec, socket] = co_await acceptor.async_accept(nothrow);
    if (ec) {
      if (!acceptor.is_open()) {
        co_return;
      }
      continue;
    }
    auto& slots = w.shared.admin_slots;
    if (slots.size() >= w.shared.cfg->admin_max_connections) {
      // admin.max_connections: a flood cannot starve worker 0. The connection idle the longest
      // gives up its slot (closed now; its coroutine ends and frees the entry); when every one is
      // serving a request, the new one is refused.
      std::shared_ptr<admin_slot> oldest;
      for (const auto& slot : slots) {
        if (slot->idle && slot->conn && (!oldest || slot->idle_since < oldest->idle_since)) {
          oldest = slot;
        }
      }
      if (!oldest) {
        boost::system::error_code ignored;
        socket.close(ignored);
        continue;
      }
      oldest->conn->close();
      oldest->conn = nullptr;
    }
    auto slot = std::make_shared<admin_slot>();
    const auto entry = slots.insert(slots.end(), slot);
    asio::co_spawn(w.ioc, serve_admin_connection(w, std::move(socket), slot),
                   [&w, entry](std::exception_ptr e) {
                     w.shared.admin_slots.erase(entry);
                     log_exceptions("admin session failed")(e);
                   });
  }
}

// A listening socket of its own: never SO_REUSEPORT, with which a second gateway (or any process
// of the same user) started on the same port would bind beside this one and silently take a share
// of its connections, routed by its own configuration into its own audit log. A port in use is
// refused (serve exits 3). SO_REUSEADDR only lets a restart bind over connections in TIME_WAIT.
void open_listener(tcp::acceptor& acceptor, const tcp::endpoint& ep) {
  acceptor.open(ep.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  boost::system::error_code ec;
  acceptor.bind(ep, ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("cannot listen on {}:{}: {}", ep.address().to_string(), ep.port(), ec.message()));
  }
  acceptor.listen(4096);
}

volatile std::sig_atomic_t hangup_during_start = 0;

void note_hangup(int) { hangup_during_start = 1; }

}  // namespace

void defer_hangups_until_running() {
  struct sigaction action {};
  action.sa_handler = note_hangup;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGHUP, &action, nullptr);
}

server::server(std::shared_ptr<const config> cfg) {
  // A peer that resets mid-write must become an error code on that connection, not a dead process.
  std::signal(SIGPIPE, SIG_IGN);
  state_.cfg = cfg;
  state_.server_tls.store(make_server_context(cfg->tls));
  state_.upstreams = build_upstreams(*cfg);
  state_.credentials = std::make_unique<cluster_credentials>(cfg);
  std::vector<std::string> names;
  for (const auto& c : cfg->clusters) {
    names.push_back(c.name);
  }
  state_.stats = std::make_unique<metrics>(std::move(names));
  state_.stats->certificate_not_after.store(certificate_not_after(state_.server_tls.load()),
                                            std::memory_order_relaxed);
  if (!cfg->policy_file.empty()) {
    // Seconds for a large policy, before the gateway listens: say what it is doing, and which
    // version (the file's SHA-256, as the policy's version is; errors are the pipeline's to report).
    auto text = read_regular_file(cfg->policy_file, max_policy_bytes, "policy file");
    log_line("info", "loading the policy: compiling it and proving its invariants")
        .str("file", cfg->policy_file)
        .str("version", text.is_ok() ? crypto::to_hex(crypto::sha256(*text)) : std::string())
        .emit();
  }
  state_.geo = std::make_shared<geo_store>(*cfg);
  state_.stages = std::make_unique<pipeline>(cfg, state_.geo);  // the policy checked: throws with its errors
  const auto remember = [&](std::string setting, const std::string& path) {
    if (auto text = read_regular_file(path, max_pem_bytes, setting); text.is_ok()) {
      start_key_files_.push_back({std::move(setting), path, crypto::sha256(*text)});
    }
  };
  if (!cfg->signing.key.empty()) {
    remember("signing.key", cfg->signing.key);  // (the tagger read it: a bad one stopped the start)
  }
  if (!cfg->signing.pseudonym_key.empty()) {
    remember("signing.pseudonym_key", cfg->signing.pseudonym_key);
  }
  for (const cluster_hmac_key& k : cfg->signing.cluster_hmac_keys) {
    remember(fmt::format("signing.cluster_hmac_keys.{}", k.cluster), k.file);
  }
  for (const std::string& file : cfg->signing.publish) {
    remember("signing.publish", file);
  }
  if (!cfg->audit_keys.empty()) {
    for (const char* name : {"signing.key", "kek.key", "auditor.pub"}) {
      remember("audit.keys", fmt::format("{}/{}", cfg->audit_keys, name));
    }
  }
  if (!cfg->warnings.empty()) {
    log_line("warn", "the configuration has warnings")
        .str("file", cfg->source)
        .str("warnings", policy::format_diagnostics(cfg->warnings))
        .emit();
  }
  log_policy_warnings();
  state_.endpoints = std::make_unique<endpoint_refresher>(*cfg, state_.upstreams, state_.geo);
  const std::shared_ptr<const endpoint_geo_report> geo = state_.endpoints->report();
  // The 503 message of a cluster without a usable endpoint says why; set again after each refresh.
  state_.stages->set_unusable_reasons(geo->cluster_reasons);
  for (const auto& e : geo->endpoints) {
    for (const address_check& a : e.addresses) {
      if (a.verdict == geo_verdict::refused) {
        log_line("warn", "endpoint address not used: it contradicts the cluster's declared location")
            .str("cluster", e.cluster)
            .str("endpoint", e.endpoint)
            .str("detail", a.reason)
            .emit();
      }
    }
  }
  for (const cluster_config& c : cfg->clusters) {
    if (!c.endpoint_geo_exempt.empty()) {
      log_line("warn",
               "endpoint country check off for this cluster: its addresses are used wherever they are")
          .str("cluster", c.name)
          .str("country", c.country)
          .str("endpoint_geo_exempt", c.endpoint_geo_exempt)
          .emit();
    }
  }
  state_.tagger = std::make_unique<const geo_tagger>(*cfg);
  if (!cfg->limits_store.host.empty()) {
    state_.limits = std::make_unique<limits_store>(cfg->limits_store, state_.stages->limiter());
  }
  state_.stats->render_more = [this, budgets = !cfg->tenants_file.empty()](std::string& out) {
    if (budgets) {
      state_.stages->render_budgets(out);
    }
    if (state_.limits) {
      state_.limits->render(out);
    }
    state_.endpoints->render_metrics(out);
    render_endpoint_distance_metrics(state_.upstreams, out);
    render_endpoint_health_metrics(state_.upstreams, out);
  };
  if (!cfg->audit_db.empty()) {
    audit::log_config ac;
    ac.db_dir = cfg->audit_db;
    ac.key_dir = cfg->audit_keys;
    ac.checkpoint_interval = cfg->audit_checkpoint_interval;
    ac.hash_client_ip = cfg->audit_hash_client_ip;
    ac.max_bytes = cfg->audit_max_bytes;
    ac.min_free_bytes = cfg->audit_min_free_bytes;
    (void)audit::parse_payload_mode(cfg->audit_payload, ac.max_payload);
    ac.in_flight = true;
    ac.on_resume_failed = [](std::string_view problem) {
      log_line("error",
               "audit log could not resume after a storage error: nothing is forwarded; tried again "
               "every second")
          .str("error", problem)
          .emit();
    };
    ac.on_checkpoint_problem = [](std::string_view problem) {
      if (problem.empty()) {
        log_line("info", "audit checkpoints are signed and published again").emit();
      } else {
        log_line("error",
                 "audit checkpoint not signed or published: records are still recorded, but a copy of "
                 "the store taken now could lose its newest ones unnoticed")
            .str("error", problem)
            .emit();
      }
    };
    auto opened = [&] {
      try {
        return audit::audit_log::open(ac);  // reads audit.keys first: its errors throw
      } catch (const crypto::key_file_error& e) {
        throw config_error(cfg->at("audit.keys", fmt::format("audit.keys: {}", e.what())),
                           true);  // as config check says
      }
    }();
    if (!opened.is_ok()) {
      throw std::runtime_error(fmt::format("audit log {}: {}", cfg->audit_db, opened.error().message()));
    }
    state_.audit = std::move(opened.value());
    if (const std::uint64_t n = state_.audit->recorded_in_flight(); n > 0) {
      log_line("warn",
               "recorded the requests the gateway was serving when it stopped (a crash or kill), each as "
               "its in-flight note says: gateway_stopped when forwarded then, else why its record failed")
          .num("requests", static_cast<std::int64_t>(n))
          .emit();
    }
    if (!state_.audit->latest_checkpoint()) {
      // A new log: signed (and published) at once, before the gateway listens, so that it verifies
      // from the start rather than after the first checkpoint_interval.
      if (auto signed_now = state_.audit->checkpoint_now(); !signed_now.is_ok()) {
        ac.on_checkpoint_problem(signed_now.error().message());
      }
    }
  }
  state_.recorder = std::make_unique<request_recorder>(cfg, *state_.stats, state_.audit.get());
  if (!cfg->admin_token_file.empty()) {
    state_.admin_token.store(std::make_shared<const std::string>(load_admin_token(*cfg)));
  }
  unsigned n = cfg->threads != 0 ? cfg->threads : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<worker>(state_, i));
  }
}

server::~server() = default;

void server::bind() {
  const config& cfg = *state_.cfg;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(cfg.listen_address, ec);
  if (ec) {
    throw std::runtime_error(fmt::format("listen.address '{}' is not an IP address", cfg.listen_address));
  }
  tcp::endpoint ep(address, cfg.listen_port);
  // One listening socket; every other worker accepts from a duplicate of it in its own io_context
  // (the kernel wakes the workers' epolls and one of them takes each connection).
  open_listener(workers_[0]->acceptor, ep);
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    const int fd = ::dup(workers_[0]->acceptor.native_handle());
    if (fd < 0) {
      throw std::runtime_error(fmt::format("cannot share the listening socket: {}", std::strerror(errno)));
    }
    workers_[i]->acceptor.assign(ep.protocol(), fd);
  }
  port_ = workers_[0]->acceptor.local_endpoint().port();
  if (cfg.admin_enabled) {
    auto admin_address = asio::ip::make_address(cfg.admin_address, ec);
    if (ec) {
      throw std::runtime_error(fmt::format("admin.address '{}' is not an IP address", cfg.admin_address));
    }
    admin_acceptor_ = std::make_unique<tcp::acceptor>(workers_[0]->ioc);
    open_listener(*admin_acceptor_, tcp::endpoint(admin_address, cfg.admin_port));
    admin_port_ = admin_acceptor_->local_endpoint().port();
  }
}

void server::reload_certificates() {
  try {
    ssl_ctx_ptr fresh = make_server_context(state_.cfg->tls);
    state_.stats->certificate_not_after.store(certificate_not_after(fresh), std::memory_order_relaxed);
    state_.server_tls.store(std::move(fresh));
    state_.stats->cert_reloads.fetch_add(1, std::memory_order_relaxed);
    state_.failed_reloads.succeeded("certificates");
    log_line("info", "certificates reloaded").str("certificate", state_.cfg->tls.certificate).emit();
  } catch (const std::exception& e) {
    state_.stats->cert_reload_failures.fetch_add(1, std::memory_order_relaxed);
    state_.failed_reloads.failed("certificates", "the current certificates", state_.cfg->tls.certificate,
                                 e.what());
    log_line("error", "certificate reload failed; keeping the current certificates")
        .str("error", e.what())
        .emit();
  }
}

void server::reload_credentials() {
  std::string errors = state_.credentials->reload();
  state_.stats->credentials_in_force.store(errors.empty() ? 1 : 0, std::memory_order_relaxed);
  if (errors.empty()) {
    state_.failed_reloads.succeeded("cluster credentials");
    log_line("info", "cluster credentials reloaded").emit();
    return;
  }
  state_.stats->credential_reload_failures.fetch_add(1, std::memory_order_relaxed);
  state_.failed_reloads.failed("cluster credentials", "the current credentials", "a cluster credential file",
                               errors);
  log_line("error", "cluster credentials reload failed; keeping the current credentials")
      .str("errors", without_final_newline(errors))
      .emit();
}

void server::reload_geo_database() {
  const geo_store::reload_result r = state_.geo->reload();
  const std::shared_ptr<const geo_store::entry> live = state_.geo->current();
  std::string files;
  for (const std::filesystem::path& f : state_.geo->files()) {
    files += files.empty() ? f.string() : " " + f.string();
  }
  switch (r.status) {
    case geo_store::reload_status::not_loaded:
      return;  // nothing uses it yet (no policy, no public endpoint address): read when first needed
    case geo_store::reload_status::reloaded:
    case geo_store::reload_status::unchanged:
      if (r.status == geo_store::reload_status::reloaded) {
        state_.stats->geo_database_reloads.fetch_add(1, std::memory_order_relaxed);
      }
      state_.stats->geo_database_in_force.store(1, std::memory_order_relaxed);
      state_.failed_reloads.succeeded("geo database");
      log_line("info", "geo database reloaded")
          .str("file", files)
          .str("database", live->identity())
          .boolean("unchanged", r.status == geo_store::reload_status::unchanged)
          .emit();
      return;
    case geo_store::reload_status::failed:
      state_.stats->geo_database_reload_failures.fetch_add(1, std::memory_order_relaxed);
      state_.stats->geo_database_in_force.store(0, std::memory_order_relaxed);
      state_.failed_reloads.failed("geo database", live->identity(), files, r.error);
      log_line("error", "geo database reload failed; keeping the current geo database")
          .str("file", files)
          .str("database", live->identity())
          .str("error", r.error)
          .emit();
      return;
  }
}

void server::reload_admin_token() {
  if (state_.cfg->admin_token_file.empty()) {
    return;
  }
  try {
    state_.admin_token.store(std::make_shared<const std::string>(load_admin_token(*state_.cfg)));
    state_.stats->admin_token_in_force.store(1, std::memory_order_relaxed);
    state_.failed_reloads.succeeded("admin token");
    log_line("info", "admin token reloaded").str("file", state_.cfg->admin_token_file).emit();
  } catch (const std::exception& e) {
    state_.stats->admin_token_reload_failures.fetch_add(1, std::memory_order_relaxed);
    state_.stats->admin_token_in_force.store(0, std::memory_order_relaxed);
    state_.failed_reloads.failed("admin token", "the previous token", state_.cfg->admin_token_file, e.what());
    log_line("error", "admin token reload failed; keeping the current token").str("error", e.what()).emit();
  }
}

// The tenants file and the policy go live as a pair that passes the checks `config check` and
// `serve` make. What a new tenants file takes away (a revoked, shortened or removed key) is in
// force at once, before any check: a leaked key must not stay usable while a policy is proved
// (seconds) or because a line of either file is wrong. What it adds waits for the policy: a policy
// file that did not change is only checked for the tenants it names (microseconds); one that
// changed is compiled and proved first. When a changed policy does not load, the tenants file goes
// live under the policy in force only if it adds no tenant: a new tenant's rules may be in the
// edit that failed (probe round 24: a new tenant was served under the old policy, unconfined,
// while its new rule was proved, and for good when that policy had an error).
void server::reload_tenants_and_policy(std::stop_token stop) {
  // Until a file is checked and live, the file on disk is not known to be in force (probe round 40:
  // the gauges read 1 through a proof of seconds, also one that then failed).
  if (!state_.cfg->policy_file.empty()) {
    state_.stats->policy_file_in_force.store(0, std::memory_order_relaxed);
  }
  if (state_.cfg->tenants_file.empty()) {
    report_policy(stop, reload_policy(stop));
    return;
  }
  state_.stats->tenants_file_in_force.store(0, std::memory_order_relaxed);
  std::string errors;
  std::optional<std::vector<tenants::api_key>> readable_keys;
  std::optional<std::vector<tenants::tenant>> readable_tenants;
  std::shared_ptr<const tenants::table> table =
      state_.stages->load_tenants(errors, &readable_keys, &readable_tenants);
  // A file whose keys cannot be read at all (not YAML, no `keys:` list) revokes nothing: the log
  // says so.
  const std::optional<std::span<const tenants::api_key>> next_keys =
      table           ? std::optional(std::span(table->keys()))
      : readable_keys ? std::optional(std::span<const tenants::api_key>(*readable_keys))
                      : std::nullopt;
  const std::size_t revoked = next_keys ? state_.stages->apply_revocations(*next_keys) : 0;
  if (revoked != 0) {
    log_line("info", "keys revoked at once")
        .str("file", state_.cfg->tenants_file)
        .num("keys_revoked", static_cast<std::int64_t>(revoked))
        .emit();
  }
  // The same for client certificates (probe round 42: a leaked certificate removed from its tenant
  // stayed in force when another line of the file was wrong). A file whose `tenants:` cannot be
  // read as a list takes none away: the log says so.
  const std::vector<tenants::tenant>* next_tenants = table              ? &table->tenants()
                                                     : readable_tenants ? &*readable_tenants
                                                                        : nullptr;
  const std::size_t certificates_removed =
      next_tenants != nullptr ? state_.stages->apply_certificate_removals(*next_tenants) : 0;
  if (certificates_removed != 0) {
    log_line("info", "certificates removed at once")
        .str("file", state_.cfg->tenants_file)
        .num("certificates_removed", static_cast<std::int64_t>(certificates_removed))
        .emit();
  }
  if (table) {
    const auto go_live = [&] {
      state_.stages->use_tenants(table);
      state_.stats->tenants_reloads.fetch_add(1, std::memory_order_relaxed);
      state_.stats->tenants_file_in_force.store(1, std::memory_order_relaxed);
      state_.failed_reloads.succeeded("tenants");
      log_line("info", "tenants reloaded")
          .str("file", state_.cfg->tenants_file)
          .num("tenants", static_cast<std::int64_t>(table->tenants().size()))
          .num("keys", static_cast<std::int64_t>(table->keys().size()))
          .emit();
    };
    std::string with_new = reload_policy(stop, table.get());
    if (stop.stop_requested()) {
      report_policy(stop, with_new);  // abandoned: neither goes live
      return;
    }
    if (with_new.empty()) {
      go_live();
      report_policy(stop, with_new);
      return;
    }
    const std::vector<std::string> added =
        policy_unchanged_ ? std::vector<std::string>() : tenants_added(*table);
    const std::string live =
        policy_unchanged_ || !added.empty() ? std::string() : state_.stages->check_live_policy(*table);
    if (policy_unchanged_) {
      errors = fmt::format(
          "the policy in force does not hold with the new tenants file, which stays unloaded:\n{}", with_new);
    } else if (!added.empty()) {
      errors = fmt::format(
          "the policy file changed and does not load, and the new tenants file adds {} {}, whose rules may "
          "be in that policy: it goes live with a policy that loads (its revocations apply):\n{}",
          added.size() == 1 ? "tenant" : "tenants", fmt::join(added, ", "), with_new);
    } else if (!live.empty()) {
      errors = fmt::format(
          "the policy in force does not hold with the new tenants file, which stays unloaded:\n{}", live);
    } else {
      // It adds no tenant: keys and limits of tenants the policy in force already decides for.
      go_live();
      report_policy(stop, with_new);
      return;
    }
  }
  state_.stats->tenants_reload_failures.fetch_add(1, std::memory_order_relaxed);
  state_.stats->tenants_file_in_force.store(0, std::memory_order_relaxed);
  state_.failed_reloads.failed("tenants", "the last good tenants", state_.cfg->tenants_file, errors);
  log_line("error", "tenants reload failed; keeping the current tenants")
      .str("file", state_.cfg->tenants_file)
      .num("keys_revoked_anyway", static_cast<std::int64_t>(revoked))
      .str("keys_read",
           next_keys ? "yes" : "no: the file's keys could not be read, no revocation in it is in force")
      .num("certificates_removed_anyway", static_cast<std::int64_t>(certificates_removed))
      .str("certificates_read",
           next_tenants != nullptr
               ? "yes"
               : "no: the file's tenants could not be read, no certificate removal in it is in force")
      .str("errors", without_final_newline(errors))
      .emit();
  report_policy(stop, reload_policy(stop, nullptr, true));  // against the tenants that stay
}

std::vector<std::string> server::tenants_added(const tenants::table& next) const {
  const std::shared_ptr<const tenants::table> live = state_.stages->tenants();
  std::vector<std::string> added;
  for (const tenants::tenant& t : next.tenants()) {
    const bool known = live && std::any_of(live->tenants().begin(), live->tenants().end(),
                                           [&](const tenants::tenant& l) { return l.name == t.name; });
    if (!known) {
      added.push_back(t.name);
    }
  }
  return added;
}

std::string server::reload_policy(std::stop_token stop, const tenants::table* with, bool retry) {
  if (!state_.cfg->policy_file.empty()) {
    log_line("info", retry ? "policy reload: checking the policy file against the tenants in force"
                           : "policy reload started")
        .str("file", state_.cfg->policy_file)
        .emit();
  }
  policy_unchanged_ = false;
  return state_.stages->reload_policy(std::move(stop), with, &policy_unchanged_);
}

// Says how a policy reload ended (`errors`: its result, empty when the policy went live).
void server::report_policy(std::stop_token stop, const std::string& errors) {
  if (state_.cfg->policy_file.empty()) {
    return;
  }
  if (errors.empty()) {
    // An unchanged file is not compiled and proved again: its tenant names are checked again.
    state_.stats->policy_reloads.fetch_add(1, std::memory_order_relaxed);
    state_.stats->policy_file_in_force.store(1, std::memory_order_relaxed);
    state_.failed_reloads.succeeded("policy");
    log_line("info", "policy reloaded")
        .str("file", state_.cfg->policy_file)
        .str("version", state_.stages->policy_version())
        .boolean("unchanged", policy_unchanged_)
        .emit();
    log_policy_warnings();
  } else if (stop.stop_requested()) {
    log_line("info", "policy reload abandoned: the gateway is stopping")
        .str("file", state_.cfg->policy_file)
        .emit();
  } else {
    state_.stats->policy_reload_failures.fetch_add(1, std::memory_order_relaxed);
    state_.stats->policy_file_in_force.store(0, std::memory_order_relaxed);
    state_.failed_reloads.failed("policy", "version " + state_.stages->policy_version(),
                                 state_.cfg->policy_file, errors);
    log_line("error", "policy reload failed; keeping the current policy")
        .str("file", state_.cfg->policy_file)
        .str("version", state_.stages->policy_version())
        .str("errors", without_final_newline(errors))
        .emit();
  }
}

void server::warn_if_config_changed() {
  const config& cfg = *state_.cfg;
  if (cfg.source == "<embedded default>") {
    return;
  }
  auto text = read_regular_file(cfg.source, max_config_bytes, "configuration file");
  if (text.is_ok() && crypto::sha256(*text) == cfg.text_sha256) {
    return;
  }
  log_line(
      "warn",
      "the configuration file changed since start; SIGHUP reloads the files it names (certificates, "
      "credentials, admin token, geo database, tenants, policy), not the configuration itself: restart to "
      "apply it")
      .str("config", cfg.source)
      .str("now", text.is_ok() ? "changed" : text.error().message())
      .emit();
}

void server::warn_if_start_keys_changed() {
  for (const key_file& k : start_key_files_) {
    auto text = read_regular_file(k.path, max_pem_bytes, k.setting);
    if (text.is_ok() && crypto::sha256(*text) == k.sha256) {
      continue;
    }
    log_line("warn",
             k.setting == "audit.keys"
                 ? "an audit key file changed since start; the audit log signs its checkpoints with, "
                   "and seals payloads to, the keys it opened with, and the next start refuses keys "
                   "that are not the log's: rotate them as docs/auditing.md says (\"Rotating the "
                   "auditor key\", \"Rotating the checkpoint signing key\"), with the gateway stopped"
                 : "a signing key file changed since start; the gateway signs with the key it started "
                   "with: restart to apply it (docs/signatures.md, \"Rotation\": give clusters both "
                   "keys first)")
        .str("setting", k.setting)
        .str("file", k.path)
        .str("now", text.is_ok() ? "changed" : text.error().message())
        .emit();
  }
}

void server::check_start_files() {
  const config& cfg = *state_.cfg;
  std::vector<std::string> problems;
  if (cfg.source != "<embedded default>") {
    if (std::string problem = others_may_change(cfg.source, "the configuration file"); !problem.empty()) {
      problems.push_back(std::move(problem));
    }
  }
  try {
    const geo_tagger tagger(cfg);  // the signing keys, as the start reads them
  } catch (const std::exception& e) {
    problems.emplace_back(e.what());
  }
  if (!cfg.audit_keys.empty()) {
    try {
      (void)audit::load_writer_keys(cfg.audit_keys);
    } catch (const std::exception& e) {
      problems.push_back(cfg.at("audit.keys", fmt::format("audit.keys: {}", e.what())));
    }
  }
  state_.stats->restart_check_problems.store(problems.size(), std::memory_order_relaxed);
  if (!problems.empty()) {
    log_line("error",
             "a restart would refuse files read at start only; the gateway runs on with what it read then: "
             "fix them before it restarts")
        .str("problems", fmt::format("{}", fmt::join(problems, "\n")))
        .emit();
  }
}

void server::log_policy_warnings() {
  const std::vector<policy::diagnostic> warnings = state_.stages->policy_warnings();
  if (!warnings.empty()) {
    log_line("warn", "the policy has warnings")
        .str("file", state_.cfg->policy_file)
        .str("version", state_.stages->policy_version())
        .str("warnings", policy::format_diagnostics(warnings))
        .emit();
  }
}

void server::reload_endpoints(const char* trigger) { state_.endpoints->request(trigger); }

// How long the requests cut at the drain deadline have to be recorded before the workers stop:
// an audit append and its durability wait take milliseconds; a log that cannot write fails them.
constexpr milliseconds cut_grace{5000};

void server::begin_drain() {
  if (state_.draining.exchange(true)) {
    return;
  }
  log_line("info", "draining")
      .num("active_connections", state_.stats->active_connections.load())
      .num("deadline_ms", state_.cfg->timeouts.drain.count())
      .emit();
  for (auto& w : workers_) {
    asio::post(w->ioc, [wp = w.get()] {
      boost::system::error_code ec;
      wp->acceptor.close(ec);
      for (connection* c : wp->idle_connections) {
        c->cancel();
      }
    });
  }
  worker& w0 = *workers_[0];
  auto deadline = std::chrono::steady_clock::now() + state_.cfg->timeouts.drain;
  asio::co_spawn(
      w0.ioc,
      [this, deadline, &w0]() -> asio::awaitable<void> {
        asio::steady_timer tick(w0.ioc);
        while (state_.stats->active_connections.load() > 0 && std::chrono::steady_clock::now() < deadline) {
          tick.expires_after(milliseconds(20));
          co_await tick.async_wait(nothrow);
        }
        std::int64_t left = state_.stats->active_connections.load();
        if (left > 0) {
          // Cut what is still in progress, then let each cut request end through its recording
          // (an audit record, durable, as shutdown_cut) before the workers stop: a request the
          // gateway accepted is never left unrecorded, even one it cut.
          for (auto& w : workers_) {
            asio::post(w->ioc, [wp = w.get()] {
              wp->cutting = true;
              for (connection* c : wp->busy_clients) {
                c->cancel();
              }
              for (connection* c : wp->busy_upstreams) {
                c->cancel();
              }
            });
          }
          const auto recorded_by = std::chrono::steady_clock::now() + cut_grace;
          while (state_.stats->active_connections.load() > 0 &&
                 std::chrono::steady_clock::now() < recorded_by) {
            tick.expires_after(milliseconds(20));
            co_await tick.async_wait(nothrow);
          }
        }
        const std::int64_t stopped = state_.stats->active_connections.load();
        log_line(left == 0 ? "info" : "warn", "drained")
            .num("connections_cut", left)
            .num("connections_stopped", stopped)  // still open after the cut's grace: stopped unrecorded
            .emit();
        for (auto& w : workers_) {
          w->ioc.stop();
        }
      },
      log_exceptions("drain failed"));
}

int server::run() {
  const config& cfg = *state_.cfg;
  worker& w0 = *workers_[0];
  // Signals are handled on a control thread of their own, which never blocks: no worker's
  // connections wait for it.
  asio::io_context control(1);
  asio::signal_set signals(control, SIGINT, SIGTERM, SIGHUP);
  // SIGHUP's reloads run on a thread of their own: the signal thread only asks, so SIGTERM drains at
  // once whatever a reload is doing (a 10k-rule policy's compilation and proofs take seconds).
  reload_thread reloads([this](std::stop_token stop) {
    log_line("info", "reloading").str("config", state_.cfg->source).emit();
    warn_if_config_changed();
    warn_if_start_keys_changed();
    check_start_files();
    reload_certificates();
    reload_credentials();
    reload_admin_token();
    reload_geo_database();
    reload_tenants_and_policy(stop);
    reload_endpoints("sighup");
  });
  std::function<void()> wait_signal;
  wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) {
        return;
      }
      if (sig == SIGHUP) {
        if (reloads.request()) {
          log_line("info", "reload asked for; it follows the one in progress").emit();
        }
      } else {
        begin_drain();
      }
      wait_signal();
    });
  };
  wait_signal();
  if (hangup_during_start != 0) {  // the signal_set's handler is in place: none is lost after this
    log_line("info", "SIGHUP came while the gateway started: reloading now").emit();
    (void)reloads.request();
  }
  // Endpoint names are resolved again on a thread of their own (every dns_refresh, or as the answers'
  // TTLs say, and on SIGHUP): a silent name server must not hold up signals.
  state_.endpoints->start(
      [this] { state_.stages->set_unusable_reasons(state_.endpoints->report()->cluster_reasons); });
  std::thread control_thread([&control] {
    auto guard = asio::make_work_guard(control);
    control.run();
  });
  if (state_.limits) {
    state_.limits->start();
  }
  for (auto& w : workers_) {
    asio::co_spawn(w->ioc, accept_loop(*w), log_exceptions("accept loop failed"));
  }
  if (admin_acceptor_) {
    asio::co_spawn(w0.ioc, admin_accept_loop(w0, *admin_acceptor_),
                   log_exceptions("admin accept loop failed"));
  }
  log_line("info", "listening")
      .str("address", cfg.listen_address)
      .num("port", port_)
      .str("admin_address", cfg.admin_enabled ? cfg.admin_address : "")
      .num("admin_port", admin_port_)
      .num("threads", static_cast<std::int64_t>(workers_.size()))
      .str("config", cfg.source)
      .str("policy_version", state_.stages->policy_version())
      .emit();
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    threads.emplace_back([w = workers_[i].get()] {
      auto guard = asio::make_work_guard(w->ioc);
      w->ioc.run();
    });
  }
  {
    auto guard = asio::make_work_guard(w0.ioc);
    w0.ioc.run();
  }
  for (auto& t : threads) {
    t.join();
  }
  control.stop();
  control_thread.join();
  reloads.stop();              // a reload in flight is asked to stop (its proofs end) and waited for
  state_.endpoints->cancel();  // a DNS query in flight ends now; joined below, after the audit log
  if (state_.limits) {
    state_.limits->stop();
  }
  {
    std::lock_guard lock(state_.audit_job_mutex);
    if (state_.audit_job.joinable()) {
      state_.audit_job.join();  // a shred or retention run asked for on the admin listener
    }
  }
  if (state_.audit) {
    audit::status s = state_.audit->close();  // every queued record durable, final checkpoint signed
    log_line(s.is_ok() ? "info" : "error", "audit log closed")
        .num("size", static_cast<std::int64_t>(state_.audit->durable_size()))
        .str("status", s.is_ok() ? "ok" : s.message())
        .emit();
  }
  state_.endpoints->stop();
  log_line("info", "stopped").emit();
  return 0;
}

}  // namespace sovgw::gateway
