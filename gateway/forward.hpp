#pragma once

// forward: the request to the chosen cluster and the cluster's response head back.
//
// An upstream_exchange holds one pooled, verified connection to an endpoint of ctx.cluster from
// forward() until release(); relay reads the response body through it. While it holds the
// connection it watches the client: a client that closes or resets cancels the exchange at once
// (the cluster sees its connection close). Lives on one worker's thread, inside one request.

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>

#include "gateway/buffer_pool.hpp"
#include "gateway/connection.hpp"
#include "gateway/http_parser.hpp"
#include "gateway/request_context.hpp"
#include "gateway/upstream_pool.hpp"
#include "gateway/worker.hpp"

namespace sovgw::gateway {

// The kind sovgw_upstream_errors_total counts an outcome the cluster caused under: the one mapping
// from what the record says to what the counter says (probe round 39: malformed chunking mid-body
// was recorded upstream_protocol and counted kind="reset").
[[nodiscard]] upstream_error_kind upstream_error_kind_of(outcome o) noexcept;
// A cluster's answer that failed mid-body before any byte of it reached the client is answered by
// the gateway as one that failed before its head: the outcome of that answer (same kind).
[[nodiscard]] outcome unanswered_outcome(outcome mid_body) noexcept;

class upstream_exchange {
 public:
  upstream_exchange(worker& w, request_context& ctx, std::shared_ptr<connection> client);
  ~upstream_exchange();
  upstream_exchange(const upstream_exchange&) = delete;
  upstream_exchange& operator=(const upstream_exchange&) = delete;

  // Leases a connection (connect and TLS failures move on to the next endpoint; nothing is retried
  // once request bytes are sent), sends the request head and body, and reads the response head
  // (1xx interim responses dropped). On failure the result names the outcome for the client's
  // error answer; the endpoint is reported to the pool when it is broken (connect, TLS, reset,
  // malformed answer), never for a slow answer.
  [[nodiscard]] boost::asio::awaitable<stage_result> forward();

  [[nodiscard]] connection& upstream() { return *lease_.conn; }
  [[nodiscard]] const http::message_head& response_head() const { return head_; }
  [[nodiscard]] const geo_tagger& tagger() const { return *w_.shared.tagger; }
  // The cluster's credential as the request was sent with it, or null.
  [[nodiscard]] const cluster_credential* credential() const { return credential_.get(); }
  // Response bytes read past the head (the start of the body).
  [[nodiscard]] std::string& buffered() { return *buffered_; }

  // The cluster failed while its body was being relayed (`s` is how the read ended): counted,
  // logged, and the endpoint reported unless the stream merely went idle (a slow generation is not
  // a broken endpoint). A cancelled read is the client's doing and reports nothing.
  void failed_mid_body(outcome o, io_status s);
  // The request reached the cluster and ended without an answer the client got: charged an estimate.
  // `generated`: the cluster may have generated all along (a timeout, a client gone, garbage): the
  // reservation; else only the prompt's estimate.
  void charge_unanswered(bool generated);
  [[nodiscard]] const std::string& cluster_name() const;
  // The drain deadline passed: a cancelled operation is the gateway's cut (worker.hpp).
  [[nodiscard]] bool cut_by_shutdown() const;

  // Ends the exchange: stops watching the client, returns the connection to the pool (kept only if
  // `reusable` and the client did not leave). True if the client went away meanwhile (ctx.result is
  // then client_disconnected).
  bool release(bool reusable);

 private:
  struct client_watch;
  // The head as forwarded, geo-tagged and signed (gateway/geo_tags.hpp); false, with the reason in
  // `unsignable`, when it cannot be signed.
  [[nodiscard]] bool request_head(std::string& out, std::string& unsignable);
  // The response head, waited for up to timeouts.upstream_response. `early`: the request's body
  // could not all be sent, and an answer the cluster already sent (RFC 9112 section 9.5: a 413 or
  // 401 before it read the body) is looked for briefly; nullopt when there is none (the caller
  // then fails as the write did).
  [[nodiscard]] boost::asio::awaitable<std::optional<stage_result>> read_response_head(bool early);
  [[nodiscard]] stage_result upstream_failed(upstream_error_kind kind, io_status s, std::string_view what);
  void watch_client();

  worker& w_;
  request_context& ctx_;
  std::shared_ptr<connection> client_;
  const upstream_cluster& cluster_;
  upstream_pool::lease lease_;
  std::shared_ptr<client_watch> watch_;
  http::message_head head_;
  pooled_buffer buffered_;
  std::shared_ptr<const cluster_credential> credential_;  // the one the request was sent with
  bool released_ = false;
  bool body_unsent_ = false;  // answered before the whole request was sent: never reused
};

}  // namespace sovgw::gateway
