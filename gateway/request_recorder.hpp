#pragma once

// record: the last stage of every request, and the only code that knows what "recorded" means.
// It owns the request's metrics, its JSON access line, its audit record and the wait for that
// record to be durable. The fail-closed rule lives here and nowhere else: an answer that carries a
// cluster's data must not reach its last byte unless its audit record is durable.
//
// Thread-safety: one recorder is shared by all workers; every method may be called from any I/O
// thread (the audit log and the metrics are thread-safe, the rest is const).

#include <boost/asio/awaitable.hpp>
#include <atomic>
#include <memory>

#include "audit/audit_log.hpp"
#include "gateway/config.hpp"
#include "gateway/metrics.hpp"
#include "gateway/request_context.hpp"

namespace sovgw::gateway {

class request_recorder {
 public:
  // `log` may be null (no audit: section); both must outlive the recorder.
  request_recorder(std::shared_ptr<const config> cfg, metrics& stats, audit::audit_log* log);

  // What the audit record keeps of this request's payload: the configured audit.payload, lowered
  // by the policy's log_payload obligation; a digest at most for a request that was never sent to
  // a cluster (refused, malformed): no client can fill the log's disk with refused bodies.
  [[nodiscard]] audit::payload_mode payload_mode(const request_context& ctx) const;
  // Whether the relay must keep (the first MiB of) the completion for the audit payload.
  [[nodiscard]] bool captures_completion(const request_context& ctx) const {
    return log_ != nullptr && payload_mode(ctx) != audit::payload_mode::none;
  }

  // Before a request goes to a cluster: the audit log must be able to record it (healthy and
  // within its space bounds), else 503 audit_unavailable and nothing is sent. Logs each change
  // of the log's state once. Cheap: one atomic load while the log is healthy.
  [[nodiscard]] stage_result admit(const request_context& ctx) const;

  // Just before the request's bytes go to the cluster (forward): an in-flight note of it (one
  // unsynced write, audit/in_flight.hpp), so that a gateway killed before the record is made still
  // records the request at its next start. False when the note could not be written: nothing may
  // be sent (answer audit_unavailable).
  [[nodiscard]] bool note_forwarded(request_context& ctx) const;

  // Called before the last bytes of any answer: waits until ctx's audit record is durable, so a
  // client that received a complete answer knows its request is on the log. True at once without
  // an audit log, with audit.record_before_response: false, or when already written. False when
  // the record could not be written: ctx.result becomes audit_unavailable, and the caller must not
  // complete an answer that carries a cluster's data (fail closed); such an answer (a forwarded
  // request's, ctx.result ok until then) is marked ctx.answer_cut. The log keeps its record and
  // writes it once it resumes.
  [[nodiscard]] boost::asio::awaitable<bool> make_durable(request_context& ctx) const;
  // True when make_durable(ctx) has nothing to wait for: callers skip the coroutine (a frame and a
  // resumption on every answer).
  [[nodiscard]] bool durable_already(const request_context& ctx) const {
    return log_ == nullptr || !cfg_->audit_record_before_response || ctx.audit_recorded;
  }

  // After the request, whatever its outcome: metrics, the access line, and the audit record unless
  // make_durable() already wrote it (requests that ended without a complete answer).
  void finish(const request_context& ctx) const;

 private:
  [[nodiscard]] boost::asio::awaitable<audit::status> append_and_wait(const request_context& ctx,
                                                                      double seconds) const;
  [[nodiscard]] audit::record audit_record(const request_context& ctx, double seconds) const;
  void access_line(const request_context& ctx, double seconds) const;

  std::shared_ptr<const config> cfg_;
  metrics& stats_;
  audit::audit_log* log_;
  audit::payload_mode max_payload_ = audit::payload_mode::none;  // audit.payload, parsed once
  mutable std::atomic<bool> refusing_{false};                       // admit() refuses now (for its log lines)
};

}  // namespace sovgw::gateway
