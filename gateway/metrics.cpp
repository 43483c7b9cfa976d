#include "gateway/metrics.hpp"

#include <fmt/format.h>

namespace sovgw::gateway {

namespace {
constexpr const char* error_kind_names[] = {"connect", "tls", "timeout", "reset", "protocol", "distance"};
}

metrics::metrics(std::vector<std::string> cluster_names) {
  names_.push_back("none");
  for (const auto& n : cluster_names) {
    names_.push_back(metric_label(n));  // as label values are written (the config's names are tokens)
  }
  clusters_ = std::make_unique<per_cluster[]>(names_.size());
  outcomes_ = std::make_unique<std::atomic<std::uint64_t>[]>(outcome_count());
}

void metrics::request_done(int cluster, int status, double seconds, outcome result) {
  outcomes_[static_cast<std::size_t>(result)].fetch_add(1, std::memory_order_relaxed);
  per_cluster& c = clusters_[static_cast<std::size_t>(cluster + 1)];
  if (status >= 100 && status < 600) {
    c.by_status[static_cast<std::size_t>(status)].fetch_add(1, std::memory_order_relaxed);
  }
  std::size_t b = 0;
  while (b < buckets.size() && seconds > buckets[b]) {
    ++b;
  }
  c.histogram[b].fetch_add(1, std::memory_order_relaxed);
  c.duration_us_sum.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void metrics::upstream_error(int cluster, upstream_error_kind kind) {
  clusters_[static_cast<std::size_t>(cluster + 1)].errors[static_cast<std::size_t>(kind)].fetch_add(
      1, std::memory_order_relaxed);
}

std::string metric_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void usage_counters::add(std::string_view tenant, std::string_view model, std::string_view cluster,
                         std::uint64_t prompt_tokens, std::uint64_t completion_tokens) {
  const std::lock_guard lock(mutex_);
  if (auto it = requests_.find(tenant); it != requests_.end()) {
    ++it->second;
  } else if (requests_.size() < max_series_) {
    requests_.emplace(std::string(tenant), 1);
  }
  if (prompt_tokens == 0 && completion_tokens == 0) {
    return;
  }
  auto it =
      tokens_.find(std::tuple<std::string_view, std::string_view, std::string_view>(tenant, model, cluster));
  if (it == tokens_.end()) {
    std::tuple<std::string, std::string, std::string> key{tenant, model, cluster};
    std::size_t* mine = nullptr;  // (none once all series are taken: the map stays bounded too)
    if (tokens_.size() < max_series_) {
      auto at = tenant_series_.find(tenant);
      mine = at != tenant_series_.end() ? &at->second
                                        : &tenant_series_.emplace(std::string(tenant), 0).first->second;
    }
    if (mine == nullptr || *mine >= max_series_per_tenant_) {
      std::get<1>(key) = "other";
    }
    bool added = false;
    std::tie(it, added) = tokens_.try_emplace(std::move(key), std::array<std::uint64_t, 2>{0, 0});
    if (added && mine != nullptr) {
      ++*mine;
    }
  }
  it->second[0] += prompt_tokens;
  it->second[1] += completion_tokens;
}

void usage_counters::render(std::string& out) const {
  auto it = std::back_inserter(out);
  const std::lock_guard lock(mutex_);
  fmt::format_to(it,
                 "# HELP sovgw_tenant_requests_total Requests by tenant (every outcome).\n"
                 "# TYPE sovgw_tenant_requests_total counter\n");
  for (const auto& [tenant, n] : requests_) {
    fmt::format_to(it, "sovgw_tenant_requests_total{{tenant=\"{}\"}} {}\n", metric_label(tenant), n);
  }
  fmt::format_to(
      it,
      "# HELP sovgw_tokens_total Tokens the clusters reported (usage), by tenant, model, cluster and "
      "type.\n"
      "# TYPE sovgw_tokens_total counter\n");
  for (const auto& [key, n] : tokens_) {
    const auto& [tenant, model, cluster] = key;
    for (int t = 0; t < 2; ++t) {
      fmt::format_to(it, "sovgw_tokens_total{{tenant=\"{}\",model=\"{}\",cluster=\"{}\",type=\"{}\"}} {}\n",
                     metric_label(tenant), metric_label(model), metric_label(cluster),
                     t == 0 ? "prompt" : "completion", n[t]);
    }
  }
}

std::string metrics::render() const {
  std::string out;
  auto it = std::back_inserter(out);
  auto load = [](const auto& a) { return a.load(std::memory_order_relaxed); };
  fmt::format_to(it,
                 "# HELP sovgw_requests_total Requests answered, by HTTP status and cluster.\n"
                 "# TYPE sovgw_requests_total counter\n");
  for (std::size_t i = 0; i < names_.size(); ++i) {
    for (std::size_t s = 100; s < 600; ++s) {
      if (std::uint64_t v = load(clusters_[i].by_status[s])) {
        fmt::format_to(it, "sovgw_requests_total{{cluster=\"{}\",status=\"{}\"}} {}\n", names_[i], s, v);
      }
    }
  }
  fmt::format_to(it,
                 "# HELP sovgw_request_outcomes_total Requests by how they ended (docs/auditing.md lists "
                 "the outcomes; ok is a success).\n"
                 "# TYPE sovgw_request_outcomes_total counter\n");
  for (std::size_t o = 0; o < outcome_count(); ++o) {
    const std::string_view kind = kind_of(static_cast<outcome>(o));
    fmt::format_to(it, "sovgw_request_outcomes_total{{outcome=\"{}\"}} {}\n", kind.empty() ? "ok" : kind,
                   load(outcomes_[o]));
  }
  fmt::format_to(it,
                 "# HELP sovgw_request_duration_seconds Time from request head to the end of the response.\n"
                 "# TYPE sovgw_request_duration_seconds histogram\n");
  for (std::size_t i = 0; i < names_.size(); ++i) {
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < buckets.size(); ++b) {
      cumulative += load(clusters_[i].histogram[b]);
      fmt::format_to(it, "sovgw_request_duration_seconds_bucket{{cluster=\"{}\",le=\"{}\"}} {}\n", names_[i],
                     buckets[b], cumulative);
    }
    cumulative += load(clusters_[i].histogram[buckets.size()]);
    fmt::format_to(it, "sovgw_request_duration_seconds_bucket{{cluster=\"{}\",le=\"+Inf\"}} {}\n", names_[i],
                   cumulative);
    fmt::format_to(it, "sovgw_request_duration_seconds_sum{{cluster=\"{}\"}} {:.6f}\n", names_[i],
                   static_cast<double>(load(clusters_[i].duration_us_sum)) / 1e6);
    fmt::format_to(it, "sovgw_request_duration_seconds_count{{cluster=\"{}\"}} {}\n", names_[i], cumulative);
  }
  fmt::format_to(it,
                 "# HELP sovgw_upstream_errors_total Failures talking to clusters, by kind.\n"
                 "# TYPE sovgw_upstream_errors_total counter\n");
  for (std::size_t i = 1; i < names_.size(); ++i) {
    for (std::size_t k = 0; k < clusters_[i].errors.size(); ++k) {
      fmt::format_to(it, "sovgw_upstream_errors_total{{cluster=\"{}\",kind=\"{}\"}} {}\n", names_[i],
                     error_kind_names[k], load(clusters_[i].errors[k]));
    }
  }
  auto gauge = [&](const char* name, const char* help, const char* type, auto value) {
    fmt::format_to(it, "# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  gauge("sovgw_active_connections", "Open downstream connections.", "gauge", load(active_connections));
  gauge("sovgw_connections_total", "Accepted downstream connections.", "counter", load(connections_total));
  gauge("sovgw_connections_rejected_total", "Connections refused at the connection limit.", "counter",
        load(connections_rejected));
  gauge("sovgw_tls_handshake_failures_total", "Failed downstream TLS handshakes.", "counter",
        load(tls_handshake_failures));
  gauge("sovgw_plain_http_connections_total",
        "Handshakes that failed because plain HTTP came to the TLS port (answered 400 "
        "plain_http_to_https_port; anything such a request carried, an API key too, crossed the network in "
        "clear).",
        "counter", load(plain_http_connections));
  gauge("sovgw_proxy_protocol_errors_total",
        "Connections from trusted proxies closed for a missing or invalid PROXY v2 header.", "counter",
        load(proxy_protocol_errors));
  gauge("sovgw_client_disconnects_total", "Clients that went away before their response completed.",
        "counter", load(client_disconnects));
  gauge("sovgw_upstream_connections_open", "Open connections to clusters.", "gauge",
        load(upstream_connections_open));
  gauge("sovgw_upstream_connections_reused_total", "Requests sent on a pooled keep-alive connection.",
        "counter", load(upstream_connections_reused));
  gauge("sovgw_upstream_tls_resumed_total",
        "New connections to clusters whose TLS handshake resumed the endpoint's last session.", "counter",
        load(upstream_tls_resumed));
  gauge("sovgw_certificate_reloads_total", "Successful certificate reloads (SIGHUP).", "counter",
        load(cert_reloads));
  gauge("sovgw_certificate_reload_failures_total", "Failed certificate reloads (the old ones stay).",
        "counter", load(cert_reload_failures));
  gauge("sovgw_certificate_not_after_seconds",
        "When the listener's certificate expires (Unix time): alert well before it is reached.", "gauge",
        load(certificate_not_after));
  gauge("sovgw_tenants_reload_failures_total", "Failed tenants-file reloads (the last good tenants stay).",
        "counter", load(tenants_reload_failures));
  gauge("sovgw_policy_reload_failures_total",
        "Failed policy reloads: errors, or a check against the configuration (the last good policy stays).",
        "counter", load(policy_reload_failures));
  gauge("sovgw_tenants_reloads_total", "Tenants-file reloads that went live (SIGHUP).", "counter",
        load(tenants_reloads));
  gauge("sovgw_policy_reloads_total", "Policy reloads that went live or found the file unchanged (SIGHUP).",
        "counter", load(policy_reloads));
  gauge("sovgw_tenants_file_in_force",
        "1 when the tenants file on disk is in force, 0 while a reload checks it and when its last reload "
        "failed and the last good tenants stay: alert on 0 that lasts.",
        "gauge", static_cast<unsigned>(load(tenants_file_in_force)));
  gauge("sovgw_policy_file_in_force",
        "1 when the policy file on disk is in force, 0 while a reload checks it and when its last reload "
        "failed and the last good policy stays: alert on 0 that lasts (sovgw_policy_info says which version "
        "is in force).",
        "gauge", static_cast<unsigned>(load(policy_file_in_force)));
  gauge("sovgw_cluster_credentials_in_force",
        "1 when every cluster credential file on disk is in force, 0 when the last reload failed and the "
        "current credentials stay: alert on 0.",
        "gauge", static_cast<unsigned>(load(credentials_in_force)));
  gauge("sovgw_admin_token_file_in_force",
        "1 when admin.token_file's token is in force, 0 when the last reload failed and the previous token "
        "still opens the admin jobs: alert on 0.",
        "gauge", static_cast<unsigned>(load(admin_token_in_force)));
  gauge(
      "sovgw_geo_database_in_force",
      "1 when the geo database on disk (geo_database, else tor-geoipdb) is in force, 0 when its last reload "
      "failed and the last good one still geolocates clients and endpoints: alert on 0.",
      "gauge", static_cast<unsigned>(load(geo_database_in_force)));
  gauge("sovgw_geo_database_reloads_total", "Changed geo databases a reload put in force (SIGHUP).",
        "counter", load(geo_database_reloads));
  gauge("sovgw_geo_database_reload_failures_total",
        "Failed geo database reloads (the last good database stays).", "counter",
        load(geo_database_reload_failures));
  gauge("sovgw_restart_check_problems",
        "Problems the last SIGHUP found in files read at start only (the configuration, signing and audit "
        "keys) that a restart would refuse: alert above 0.",
        "gauge", load(restart_check_problems));
  gauge("sovgw_admin_token_reload_failures_total",
        "Failed admin.token_file reloads (the current token stays).", "counter",
        load(admin_token_reload_failures));
  gauge("sovgw_cluster_credential_reload_failures_total",
        "Failed cluster credential reloads (the current credentials stay).", "counter",
        load(credential_reload_failures));
  gauge("sovgw_data_class_requests_total", "Requests that carried a data class (declared or detected).",
        "counter", load(classified_requests));
  gauge("sovgw_redactions_total", "Findings replaced in request bodies by redact obligations.", "counter",
        load(redactions));
  usage.render(out);
  if (render_more) {
    render_more(out);
  }
  return out;
}

std::string render_audit_metrics(const audit::audit_log& log) {
  const audit::log_stats st = log.stats();
  const auto checkpoint = log.latest_checkpoint();
  std::string out;
  auto it = std::back_inserter(out);
  auto line = [&](const char* name, const char* help, const char* type, auto value) {
    fmt::format_to(it, "# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  line("sovgw_audit_records_total", "Audit records made durable since start.", "counter", st.records);
  line("sovgw_audit_syncs_total", "Group commits (one fdatasync each) since start.", "counter", st.syncs);
  line("sovgw_audit_sync_seconds_total", "Time spent in group commits since start.", "counter",
       st.sync_seconds);
  line("sovgw_audit_tree_size", "Records in the audit log's Merkle tree (durable).", "gauge",
       log.durable_size());
  line("sovgw_audit_checkpoint_size", "Tree size covered by the latest signed checkpoint.", "gauge",
       checkpoint ? checkpoint->size : 0);
  line("sovgw_audit_checkpoint_failures_total",
       "Periodic checkpoints the log could not sign (storage error, or a stored tree that no longer "
       "proves consistency).",
       "counter", st.checkpoint_failures);
  const audit::log_health h = log.health();
  line("sovgw_audit_accepting",
       "1 while the audit log can record requests; 0 while it has failed or is over its space bounds "
       "(no request is forwarded then).",
       "gauge", h.state == audit::health_state::ok ? 1 : 0);
  line("sovgw_audit_failed", "1 while the audit log's storage has failed (it retries every second).", "gauge",
       h.state == audit::health_state::failed ? 1 : 0);
  line("sovgw_audit_space_exhausted",
       "1 while the audit log is over audit.max_bytes or under audit.min_free_bytes.", "gauge",
       h.state == audit::health_state::full ? 1 : 0);
  line("sovgw_audit_bytes", "Size of the audit database directory at the last check.", "gauge", h.bytes);
  line("sovgw_audit_storage_failures_total", "Storage errors since start.", "counter", h.failures);
  line("sovgw_audit_storage_recoveries_total", "Times the log resumed after a storage error.", "counter",
       h.recoveries);
  line("sovgw_audit_resume_failures_total",
       "Attempts to resume after a storage error that failed (the reason is logged, and in /readyz).",
       "counter", h.resume_failures);
  return out;
}

}  // namespace sovgw::gateway
