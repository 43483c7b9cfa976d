#include "gateway/forward.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>

#include "gateway/geo_tags.hpp"
#include "gateway/log.hpp"
#include "gateway/responses.hpp"
#include "gateway/usage_meter.hpp"

namespace sovgw::gateway {

namespace {

// A cluster's response head the gateway cannot read, said as the framing error it is.
std::string malformed_head(http::parse_error e) {
  if (e == http::parse_error::head_too_large) {
    return "malformed response head: its header section is larger than the gateway reads (64 KiB)";
  }
  if (e == http::parse_error::request_line_too_long) {
    return "malformed response head: its status line is longer than the gateway reads (8 KiB)";
  }
  if (e == http::parse_error::transfer_encoding_in_http10) {
    return "malformed response head: Transfer-Encoding in an HTTP/1.0 response (RFC 9112 section 6.1: its "
           "framing is faulty)";
  }
  if (e == http::parse_error::bad_transfer_encoding) {
    return "malformed response head: Transfer-Encoding does not end in one chunked coding";
  }
  return fmt::format("malformed response head: {}", http::describe(e));
}

constexpr std::size_t read_chunk = 16 * 1024;
// A body up to this size goes out in the head's buffer: one TLS write for the whole request.
constexpr std::size_t inline_body_max = 16 * 1024;

}  // namespace

struct upstream_exchange::client_watch {
  bool gone = false;
  connection* client = nullptr;
  std::shared_ptr<connection> upstream;
};

upstream_exchange::upstream_exchange(worker& w, request_context& ctx, std::shared_ptr<connection> client)
    : w_(w),
      ctx_(ctx),
      client_(std::move(client)),
      cluster_(*w.shared.upstreams[static_cast<std::size_t>(ctx.cluster)]) {}

upstream_exchange::~upstream_exchange() {
  if (!released_) {
    (void)release(false);
  }
}

asio::awaitable<stage_result> upstream_exchange::forward() {
  pooled_buffer head;
  std::string unsignable;
  if (!request_head(*head, unsignable)) {
    log_line("warn", "request cannot be signed")
        .str("request_id", ctx_.request_id)
        .str("detail", unsignable)
        .emit();
    co_return stage_result::respond(outcome::unsignable_request, std::move(unsignable));
  }
  upstream_pool::failure why;
  upstream_pool::walk walk;
  if (!w_.pool.acquire_now(ctx_.cluster, ctx_.tenant, lease_, why, walk)) {
    lease_ = co_await w_.pool.acquire_rest(ctx_.cluster, ctx_.tenant, why, walk);
  }
  const std::string& name = cluster_.config->name;
  if (lease_.conn) {
    w_.busy_upstreams.insert(lease_.conn.get());  // cut at the drain deadline (worker.hpp)
  }
  if (!lease_.conn) {
    log_line("warn", "no upstream connection")
        .str("request_id", ctx_.request_id)
        .str("cluster", name)
        .str("detail", why.detail)
        .emit();
    if (why.kind == upstream_error_kind::tls) {
      co_return stage_result::respond(outcome::upstream_tls_error,
                                      fmt::format("cluster '{}' failed TLS verification", name));
    }
    if (why.kind == upstream_error_kind::distance) {
      co_return stage_result::respond(
          outcome::cluster_unavailable,
          fmt::format("cluster '{}' has no endpoint whose round trip proves it where declared: {}", name,
                      why.detail));
    }
    if (why.kind == upstream_error_kind::timeout) {
      co_return stage_result::respond(outcome::upstream_connect_timeout,
                                      fmt::format("connecting to cluster '{}' timed out", name));
    }
    co_return stage_result::respond(outcome::upstream_connect_failed,
                                    fmt::format("cluster '{}' is unavailable; try again later", name));
  }
  ctx_.endpoint = lease_.endpoint->label;
  ctx_.endpoint_country = lease_.addresses->geo_country;
  if (const std::size_t at = lease_.conn->address_index(); at < lease_.addresses->notes.size()) {
    ctx_.endpoint_address = lease_.addresses->notes[at].text;
    ctx_.endpoint_address_country = lease_.addresses->notes[at].country;
  }
  ctx_.upstream_reused = lease_.reused;
  ctx_.endpoint_rtt_us =
      static_cast<std::uint32_t>(std::min<std::uint64_t>(lease_.conn->rtt_us(), UINT32_MAX));
  watch_ = std::make_shared<client_watch>();
  watch_->client = client_.get();
  watch_->upstream = lease_.conn;
  watch_client();

  const milliseconds idle = w_.shared.cfg->timeouts.stream_idle;
  io_status sent;
  if (!w_.shared.recorder->note_forwarded(ctx_)) {  // a note the next start records if this one stops
    // Nothing went out: the record names no endpoint, as for a cluster never reached (probe round
    // 46: proofs and the report showed such requests forwarded and served where the cluster is).
    ctx_.endpoint.clear();
    ctx_.endpoint_country.clear();
    ctx_.endpoint_address.clear();
    ctx_.endpoint_address_country.clear();
    ctx_.endpoint_rtt_us = 0;
    ctx_.upstream_reused = false;
    ctx_.signature_keyid.clear();
    ctx_.forwarded_digest.clear();
    co_return stage_result::respond(outcome::audit_unavailable,
                                    "the gateway's audit log cannot note this request; nothing was sent, "
                                    "try again later");
  }
  ctx_.forwarded = true;  // from here on, (some of) the request may have reached the cluster
  std::string_view first;
  std::string_view second;
  if (ctx_.body.size() <= inline_body_max) {
    *head += ctx_.body;
    first = *head;
  } else {
    first = *head;
    second = ctx_.body;
  }
  if (!lease_.conn->write_now(first, second, sent)) {
    sent = co_await lease_.conn->write(first, second, idle);
  }
  if (sent != io_status::ok) {
    // A cluster may answer before it reads the whole body (413, 401) and close: the write then
    // fails, and its answer, already here, is the client's (RFC 9112 section 9.5), not a 502 that
    // an SDK retries and the tenant is charged the prompt for (probe round 23).
    if (sent == io_status::error || sent == io_status::eof) {
      if (std::optional<stage_result> early = co_await read_response_head(true)) {
        body_unsent_ = true;
        co_return std::move(*early);
      }
    }
    co_return upstream_failed(upstream_error_kind::reset, sent, "sending the request");
  }
  std::optional<stage_result> answered = co_await read_response_head(false);
  co_return std::move(*answered);
}

namespace {

// Interim (1xx) answers a cluster may send before its final one: more is a cluster holding the
// request open, not informing the client.
constexpr int max_interim_responses = 8;

// Whether `up` is encoded otherwise than as the gateway asked (Accept-Encoding: identity): its
// usage could not be read, and a client would be charged by the compressed size, or nothing.
bool encoded(const http::message_head& up) {
  return std::any_of(up.fields.begin(), up.fields.end(), [](const http::field& f) {
    return f.id == http::field_id::content_encoding && !http::iequals(f.value, "identity");
  });
}

}  // namespace

// How long an answer sent before the request's body was read may take to be read after the write
// failed: it is in the socket's receive queue already, or there is none.
constexpr milliseconds early_answer_wait{200};

asio::awaitable<std::optional<stage_result>> upstream_exchange::read_response_head(bool early) {
  connection& upstream = *lease_.conn;
  // upstream_response bounds the wait for the final head, however many interim ones come first
  // (a 103 a second must not hold a request forever). An early answer is already here, or none.
  const milliseconds limit = early ? std::min(w_.shared.cfg->timeouts.upstream_response, early_answer_wait)
                                   : w_.shared.cfg->timeouts.upstream_response;
  const auto upstream_failed = [&](upstream_error_kind kind, io_status s,
                                   std::string_view what) -> std::optional<stage_result> {
    if (early) {
      return std::nullopt;
    }
    return this->upstream_failed(kind, s, what);
  };
  const auto deadline = std::chrono::steady_clock::now() + limit;
  milliseconds wait = limit;
  http::limits response_limits;
  response_limits.max_request_line = 8 * 1024;
  response_limits.max_head_bytes = 64 * 1024;
  // The answer cannot be there yet: wait for it rather than try a read that would fail.
  const io_status ready = co_await upstream.wait_readable(wait);
  if (ready != io_status::ok) {
    co_return upstream_failed(
        ready == io_status::timeout ? upstream_error_kind::timeout : upstream_error_kind::reset, ready,
        "waiting for the response");
  }
  for (int heads = 0;; ++heads) {
    if (heads > max_interim_responses) {
      co_return upstream_failed(upstream_error_kind::protocol, io_status::error,
                                fmt::format("more than {} interim (1xx) responses", max_interim_responses));
    }
    wait = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (wait <= milliseconds::zero()) {
      co_return upstream_failed(upstream_error_kind::timeout, io_status::timeout, "waiting for the response");
    }
    http::head_scanner scanner(response_limits, false);
    http::head_scanner::state st = scanner.scan(*buffered_);
    while (st == http::head_scanner::state::need_more) {
      connection::read_result r;
      if (!upstream.read_now(*buffered_, read_chunk, r)) {
        wait =
            std::max(milliseconds(1),
                     std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now()));
        r = co_await upstream.read_into_after_block(*buffered_, read_chunk, wait);
      }
      if (r.status != io_status::ok) {
        co_return upstream_failed(
            r.status == io_status::timeout ? upstream_error_kind::timeout : upstream_error_kind::reset,
            r.status, "waiting for the response");
      }
      st = scanner.scan(*buffered_);
    }
    // What was wrong, for the client, the record and the operator's log (probe round 46: every
    // fault read "malformed response head").
    if (st == http::head_scanner::state::error) {
      co_return upstream_failed(upstream_error_kind::protocol, io_status::error,
                                malformed_head(scanner.error()));
    }
    std::string raw = buffered_->substr(0, scanner.head_size());
    buffered_->erase(0, scanner.head_size());
    if (const http::parse_error e = http::parse_response_head(std::move(raw), ctx_.head.method, head_);
        e != http::parse_error::none) {
      co_return upstream_failed(upstream_error_kind::protocol, io_status::error, malformed_head(e));
    }
    if (head_.status == 101) {
      co_return upstream_failed(upstream_error_kind::protocol, io_status::error,
                                "it switched protocols (101), which the gateway never asks for");
    }
    if (head_.status >= 200) {
      break;
    }
  }
  // Any answer with a body, not only one whose usage is read: the gateway reads what it relays (its
  // usage; the cluster's credential, masked: probe round 47, a gzip'd 401 carried it to the client).
  if (head_.framing != http::body_framing::none && encoded(head_)) {
    co_return upstream_failed(upstream_error_kind::protocol, io_status::error,
                              "the answer has a Content-Encoding although the gateway asked for identity "
                              "(what it holds could not be read)");
  }
  w_.pool.report_success(*lease_.endpoint);
  co_return stage_result::next();
}

upstream_error_kind upstream_error_kind_of(outcome o) noexcept {
  switch (o) {
    case outcome::upstream_connect_failed:
      return upstream_error_kind::connect;
    case outcome::upstream_tls_error:
      return upstream_error_kind::tls;
    case outcome::upstream_connect_timeout:
    case outcome::upstream_timeout:
    case outcome::upstream_stream_timeout:
      return upstream_error_kind::timeout;
    case outcome::upstream_protocol:
    case outcome::upstream_bad_chunking:
      return upstream_error_kind::protocol;
    default:  // upstream_reset, upstream_reset_mid_body
      return upstream_error_kind::reset;
  }
}

outcome unanswered_outcome(outcome mid_body) noexcept {
  switch (mid_body) {
    case outcome::upstream_stream_timeout:
      return outcome::upstream_timeout;
    case outcome::upstream_reset_mid_body:
      return outcome::upstream_reset;
    default:  // upstream_bad_chunking
      return outcome::upstream_protocol;
  }
}

const std::string& upstream_exchange::cluster_name() const { return cluster_.config->name; }

bool upstream_exchange::cut_by_shutdown() const { return w_.cutting; }

// Before the answer's head the cluster had the prompt, and may have generated for as long as
// upstream_response lets it: a request that ends there (the client leaves, the wait times out, the
// cluster resets or answers garbage) is charged what admission reserved for it (the prompt's
// estimate and its completion's bound, or what unbounded completions of its scopes used), so that
// no way of ending it early makes it free.
void upstream_exchange::charge_unanswered(bool generated) {
  if (ctx_.usage_known || ctx_.usage_estimated || ctx_.body.empty()) {
    return;  // a request without a body gives a cluster nothing to generate from
  }
  ctx_.prompt_tokens = std::max(usage_meter::estimate_prompt(ctx_.body.size()), ctx_.prompt_bound);
  ctx_.completion_tokens = generated ? ctx_.completion_reserved(ctx_.prompt_tokens) : 0;
  ctx_.usage_estimated = true;
}

stage_result upstream_exchange::upstream_failed(upstream_error_kind kind, io_status s,
                                                std::string_view what) {
  const std::string& name = cluster_.config->name;
  if (s == io_status::cancelled) {
    // The client left (release() says so), or the drain deadline cut the request: nobody is there
    // to read an answer.
    return w_.cutting ? stage_result::respond(outcome::shutdown_cut, "the gateway shut down")
                      : stage_result::respond(outcome::client_disconnected, "the client went away");
  }
  // A wait that timed out, or an answer that came wrong: the cluster had the request and worked on
  // it. A connection that broke (sending, or before any answer: a pooled connection the cluster
  // had closed) may have been the network's or the pool's: the prompt only.
  charge_unanswered(s == io_status::timeout || kind == upstream_error_kind::protocol);
  const outcome failed = s == io_status::timeout                 ? outcome::upstream_timeout
                         : kind == upstream_error_kind::protocol ? outcome::upstream_protocol
                                                                 : outcome::upstream_reset;
  w_.shared.stats->upstream_error(ctx_.cluster, upstream_error_kind_of(failed));
  // Not an endpoint failure (the pool counts those: connect and TLS failures). Once the request
  // is sent, what goes wrong may be what the client sent: a head the cluster refuses by closing,
  // input it answers with garbage or resets on, a slow generation. A few such requests from any
  // tenant must not steer every request away from a healthy cluster; they are counted here
  // (sovgw_upstream_errors_total) and logged.
  log_line("warn", "upstream failed")
      .str("request_id", ctx_.request_id)
      .str("cluster", name)
      .str("endpoint", lease_.endpoint->label)
      .str("stage", what)
      .str("io", to_string(s))
      .boolean("reused_connection", lease_.reused)
      .emit();
  if (failed == outcome::upstream_timeout) {
    return stage_result::respond(failed, fmt::format("cluster '{}' did not answer in time", name));
  }
  return stage_result::respond(failed, fmt::format("cluster '{}' failed: {}", name, what));
}

void upstream_exchange::failed_mid_body(outcome o, io_status s) {
  if (s == io_status::cancelled) {
    if (w_.cutting) {
      ctx_.result = outcome::shutdown_cut;
    }
    return;  // the client left, or the drain deadline cut it; not the cluster's fault
  }
  ctx_.result = o;
  // Not an endpoint failure either (upstream_failed()).
  w_.shared.stats->upstream_error(ctx_.cluster, upstream_error_kind_of(o));
  log_line("warn", "upstream failed mid-body")
      .str("request_id", ctx_.request_id)
      .str("endpoint", lease_.endpoint->label)
      .str("error", kind_of(o))
      .emit();
}

bool upstream_exchange::release(bool reusable) {
  released_ = true;
  bool gone = false;
  if (watch_) {
    client_->drop_on_readable();  // the receive stays queued for the idle wait that follows
    gone = watch_->gone;
  }
  if (gone) {
    ctx_.result = outcome::client_disconnected;
    if (ctx_.status == 0) {
      ctx_.status = 499;  // nginx's convention: the client closed the request
      charge_unanswered(true);
    }
    w_.shared.stats->client_disconnects.fetch_add(1, std::memory_order_relaxed);
  }
  if (lease_.conn) {
    w_.busy_upstreams.erase(lease_.conn.get());
    // A cluster may refuse a request (403, 413, a redirect) without reading its body and keep the
    // connection: the unread body would then be read as the start of the next request on it, maybe
    // another tenant's, whose answer would quote this one's prompt (probe round 24). Only an answer
    // that served the request (2xx) proves the body was read; after any other, a request with a
    // body leaves the connection closed.
    const bool body_read = ctx_.body.empty() || (head_.status >= 200 && head_.status < 300);
    w_.pool.release(ctx_.cluster, ctx_.tenant, std::move(lease_),
                    reusable && !gone && !w_.cutting && !body_unsent_ && body_read);
  }
  return gone;
}

// While a request is at the cluster, a client that goes away (closes, resets, or sends TLS
// close_notify) cancels it. Pipelined data from a live client ends the watch.
void upstream_exchange::watch_client() {
  client_->on_readable(milliseconds(0), [watch = watch_](io_status s) {
    if (s == io_status::timeout || s == io_status::cancelled) {
      return;  // the client connection's own deadline or cancellation, reported by its next operation
    }
    if (s != io_status::ok || watch->client->peer_gone()) {
      watch->gone = true;
      watch->upstream->cancel();
    }
  });
}

bool upstream_exchange::request_head(std::string& out, std::string& unsignable) {
  const http::message_head& h = ctx_.head;
  const geo_tagger& tagger = *w_.shared.tagger;
  static thread_local std::vector<crypto::httpsig::field_line> forwarded;
  forwarded.clear();
  // Room for the geo-tags, the signature and an inline body: the head is built without regrowth.
  const std::size_t inline_body = ctx_.body.size() <= inline_body_max ? ctx_.body.size() : 0;
  out.reserve(h.raw.size() + (tagger.signing() ? 2048 : 1024) + inline_body);
  out += h.method;
  out += ' ';
  out += h.target;
  out += " HTTP/1.1\r\n";
  append_field(out, "Host", cluster_.host_header);
  const std::string& auth_header = cluster_.config->auth.header;  // the gateway's credential replaces any
  const auto passed_on = [&](const http::field& f) {
    return !http::is_hop_by_hop(h, f) && !http::never_forwarded(f.id) &&
           (auth_header.empty() || !http::iequals(f.name, auth_header));
  };
  static thread_local std::deque<std::string> values;  // joined and scoped values as forwarded
  values.clear();
  for (auto it = h.fields.begin(); it != h.fields.end(); ++it) {
    const http::field& f = *it;
    if (!passed_on(f) || std::any_of(h.fields.begin(), it,
                                     [&](const http::field& e) { return http::iequals(e.name, f.name); })) {
      continue;  // not forwarded, or already forwarded with the first line of its name
    }
    // A field the client sent on several lines goes on one, its values joined with ", " (RFC 9110
    // section 5.3): the signature covers it once, and a verifier refuses a covered field on two
    // lines (an application reading the first would see part of what was signed).
    std::string_view value = f.value;
    for (auto more = std::next(it); more != h.fields.end(); ++more) {
      if (http::iequals(more->name, f.name)) {
        if (value.data() == f.value.data()) {
          value = values.emplace_back(f.value);
        }
        std::string& joined = values.back();
        joined += ", ";
        joined += more->value;
        value = joined;
      }
    }
    if (f.id == http::field_id::idempotency_key) {
      std::string& scoped = values.emplace_back();
      tagger.scoped_idempotency_key(scoped, ctx_.tenant, value);
      value = scoped;  // (a deque: the signature's views of earlier ones stay valid)
    }
    append_field(out, f.name, value);
    if (tagger.signing()) {
      forwarded.push_back({f.name, value});
    }
  }
  // The cluster credential is covered like any field sent, so that a verifier can hold the request
  // to the closed world. The signature base is never sent; but an Ed25519 signature lets whoever
  // has it and the public key test a guessed credential offline, which is why credentials must be
  // high-entropy secrets (docs/signatures.md).
  if (!auth_header.empty()) {
    credential_ = w_.shared.credentials->current(ctx_.cluster);
    if (credential_) {
      out += credential_->line;
      if (tagger.signing()) {
        const std::string_view line = credential_->line;  // "<auth_header>: value\r\n"
        forwarded.push_back({line.substr(0, auth_header.size()),
                             line.substr(auth_header.size() + 2, line.size() - auth_header.size() - 4)});
      }
    }
  }
  // The gateway's own account of the client, signed with the rest: a cluster that trusts these
  // fields cannot be told another address or request id on the way.
  static thread_local std::string forwarded_for;
  const bool v6 = ctx_.client_ip.find(':') != std::string::npos;
  forwarded_for.assign(v6 ? "for=\"[" : "for=");
  forwarded_for += ctx_.client_ip;
  forwarded_for += v6 ? "]\";proto=https" : ";proto=https";
  const crypto::httpsig::field_line written[] = {{"Accept-Encoding", "identity"},
                                                 {"X-Forwarded-For", ctx_.client_ip},
                                                 {"Forwarded", forwarded_for},
                                                 {"X-Forwarded-Proto", "https"},
                                                 {"X-Request-Id", ctx_.request_id}};
  for (const crypto::httpsig::field_line& f : written) {
    append_field(out, f.name, f.value);
    if (tagger.signing()) {
      forwarded.push_back(f);
    }
  }
  if (!tagger.tag(out, ctx_, cluster_.host_header, forwarded, unsignable)) {
    return false;
  }
  if (!ctx_.body.empty() || h.method == "POST" || h.method == "PUT" || h.method == "PATCH") {
    out += "Content-Length: ";
    append_number(out, ctx_.body.size());
    out += "\r\n";
  }
  out += "\r\n";
  return true;
}

}  // namespace sovgw::gateway
