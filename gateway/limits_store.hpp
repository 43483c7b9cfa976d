#pragma once

// The shared limits store: syncs a tenants::limiter's counters with Redis (`limits_store:` in the
// configuration) so that several gateway instances hold one set of limits.
//
// Every sync_interval, one round: the limiter's pending deltas (limiter::begin_sync: the tenants
// busy on this instance, and every tenant once a second and after each connect) go to Redis
// in one EVAL of a script that adds each delta to its key (INCRBY, EXPIRE to the window's end) and
// returns every total; the totals go back into the limiter (end_sync). Requests never wait for
// Redis: admit() and charge() only touch the limiter's local counts. hiredis's asynchronous API
// is driven by an Asio io_context of the store's own (one thread), through an adapter that turns
// hiredis's addRead/delRead/addWrite/delWrite/cleanup hooks into stream_descriptor waits.
//
// A key that holds no count (not a whole number, or not a string) is overwritten with the total
// this instance knew, named in a warning and counted (sovgw_limits_store_repaired_keys_total); the
// round goes on for every other key.
//
// Outage: a failed connect, a lost connection, an error reply or a round unanswered for
// max(1 s, 10 sync intervals) marks the store down (limiter::set_store_up(false), one log line,
// sovgw_limits_store_up 0) and the limiter counts locally; reconnects back off from 100 ms to 2 s.
// The first round answered after a (re)connect marks it up again (one log line).
//
// Thread-safety: start() and stop() from the owning thread; render() from any thread.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "gateway/config.hpp"
#include "tenants/limiter.hpp"

struct redisAsyncContext;

namespace sovgw::gateway {

class limits_store {
 public:
  // `lim` must outlive the store; share() it before any request.
  limits_store(const config::limits_store_config& cfg, tenants::limiter& lim);
  ~limits_store();
  limits_store(const limits_store&) = delete;
  limits_store& operator=(const limits_store&) = delete;

  // Starts the store's thread: connect, then a round every sync interval.
  void start();
  // Closes the connection and joins the thread (pending deltas stay unsent).
  void stop();

  // sovgw_limits_store_up, _errors_total, _syncs_total in Prometheus text format.
  void render(std::string& out) const;

 private:
  struct events;  // the hiredis <-> Asio adapter

  void connect();
  void tick();
  void send_round();
  void on_reply(void* reply);
  // `answered`: Redis answered the sync with an error (it is reachable; the log line says so).
  void lost(std::string_view why, bool answered = false);
  void set_up(bool up, std::string_view why);
  void schedule_reconnect();
  static void on_connect(const redisAsyncContext* ac, int status);
  static void on_disconnect(const redisAsyncContext* ac, int status);

  config::limits_store_config cfg_;
  tenants::limiter& limiter_;
  boost::asio::io_context ioc_{1};
  boost::asio::steady_timer tick_timer_{ioc_};
  boost::asio::steady_timer reconnect_timer_{ioc_};
  std::thread thread_;

  // Owned by the store's thread.
  redisAsyncContext* ac_ = nullptr;
  bool connected_ = false;
  bool stopping_ = false;
  std::optional<tenants::limiter::sync_batch> in_flight_;
  std::size_t max_reply_elements_ = 1;  // the largest array a reply may hold (the round's items)
  std::chrono::steady_clock::time_point round_started_;
  std::chrono::steady_clock::time_point last_full_;  // the last round with every tenant
  std::chrono::milliseconds backoff_{100};
  std::optional<bool> logged_;  // the state last logged
  bool answered_ = false;       // the last failure was an error reply (lost's `answered`)

  std::atomic<bool> up_{false};
  std::atomic<std::uint64_t> errors_{0};
  std::atomic<std::uint64_t> repaired_{0};  // keys that held no count, overwritten
};

}  // namespace sovgw::gateway
