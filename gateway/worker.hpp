#pragma once

// The server's shared state and its per-thread workers.
//
// Threading: one io_context per worker thread, each accepting from the one listening socket (a
// duplicate of its descriptor: gateway/server.cpp), so a connection lives on one thread from
// accept to close and session code needs no locks or strands.
// What workers share (configuration, TLS context, upstream health, metrics) is immutable or atomic.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>
#include <vector>

#include "audit/audit_log.hpp"
#include "gateway/cluster_credentials.hpp"
#include "gateway/config.hpp"
#include "gateway/connection.hpp"
#include "gateway/endpoint_refresh.hpp"
#include "gateway/geo_store.hpp"
#include "gateway/geo_tags.hpp"
#include "gateway/limits_store.hpp"
#include "gateway/metrics.hpp"
#include "gateway/pipeline.hpp"
#include "gateway/reload_failures.hpp"
#include "gateway/request_recorder.hpp"
#include "gateway/tls_context.hpp"
#include "gateway/upstream_pool.hpp"

namespace sovgw::gateway {

// One connection of the admin listener. At admin.max_connections a new connection takes the slot
// of the one that has waited longest on its client, for a request head or for it to read an answer
// (a slow, idle or non-reading client cannot keep probes out); one whose request the gateway is
// still working on (an audit job) keeps its slot.
struct admin_slot {
  std::shared_ptr<connection> conn;  // set once serve_admin_connection has it
  std::chrono::steady_clock::time_point idle_since = std::chrono::steady_clock::now();
  bool idle = true;  // waiting on the client: for (the rest of) a request head, or to take an answer
};

struct shared_state {
  std::shared_ptr<const config> cfg;
  std::atomic<std::shared_ptr<SSL_CTX>> server_tls;  // swapped on SIGHUP
  std::vector<std::unique_ptr<upstream_cluster>> upstreams;
  std::unique_ptr<cluster_credentials> credentials;  // what the gateway sends to each cluster (auth:)
  std::unique_ptr<metrics> stats;
  std::unique_ptr<audit::audit_log> audit;  // null without audit: in the config
  std::unique_ptr<pipeline> stages;
  std::shared_ptr<geo_store> geo;  // the geo database, shared by stages and endpoints; swapped on SIGHUP
  reload_failures failed_reloads;  // the files whose last reload failed, for /readyz
  std::unique_ptr<limits_store> limits;           // null without limits_store: in the config
  std::unique_ptr<const geo_tagger> tagger;       // geo-tags and request signatures
  std::unique_ptr<endpoint_refresher> endpoints;  // endpoint addresses, re-resolved; verdicts for /readyz
  std::unique_ptr<request_recorder> recorder;
  std::atomic<bool> draining{false};
  // The audit maintenance job (shred, retention) asked for on the admin listener: one at a time, on
  // its own thread (it flushes and compacts RocksDB); joined before the audit log closes.
  std::mutex audit_job_mutex;
  std::thread audit_job;
  std::atomic<bool> audit_job_busy{false};
  // admin.token_file's token, hashed (null: admin jobs refused); swapped on SIGHUP (a bad file
  // keeps the current token).
  std::atomic<std::shared_ptr<const std::string>> admin_token;
  // The admin listener's connections open now (worker 0's thread only; admin.max_connections).
  std::list<std::shared_ptr<admin_slot>> admin_slots;
};

struct worker {
  worker(shared_state& s, unsigned index)
      : shared(s),
        id(index),
        ioc(1),
        acceptor(ioc),
        pool(ioc, s.upstreams, *s.stats, s.cfg->timeouts),
        rng(std::random_device{}()) {}

  shared_state& shared;
  unsigned id;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  upstream_pool pool;
  std::mt19937_64 rng;
  // Connections waiting for their next request; closed at once when draining starts.
  std::unordered_set<connection*> idle_connections;
  // Client connections serving a request, and the cluster connections their requests hold: when
  // the drain deadline passes, each is cancelled (`cutting` set), so that every request still in
  // progress ends through its recording, as shutdown_cut, before the worker stops.
  std::unordered_set<connection*> busy_clients;
  std::unordered_set<connection*> busy_upstreams;
  bool cutting = false;
};

}  // namespace sovgw::gateway
