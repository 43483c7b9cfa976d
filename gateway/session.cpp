#include "gateway/session.hpp"

#include <fmt/format.h>

#include <charconv>
#include <functional>
#include <optional>

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "gateway/log.hpp"

namespace sovgw::gateway {

namespace {

using clock = std::chrono::steady_clock;

constexpr std::size_t read_chunk = 16 * 1024;
constexpr milliseconds linger_time{2000};

// Time-ordered like a UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then 80 random bits, as
// 32 hex digits. Ids sort by the time they were given out, so the audit log's request-id index
// grows at its end instead of taking inserts at random places (12% of its sequencer's time).
std::string make_request_id(std::mt19937_64& rng) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string id(32, '0');
  const auto put = [&](std::size_t at, std::size_t count, std::uint64_t v) {
    for (std::size_t i = count; i-- > 0; v >>= 4) {
      id[at + i] = digits[v & 0xf];
    }
  };
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  put(0, 12, static_cast<std::uint64_t>(ms.count()));
  put(12, 16, rng());
  put(28, 4, rng());
  return id;
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Status";
  }
}

std::string error_body(std::string_view type, std::string_view code, std::string_view message,
                       std::string_view request_id) {
  std::string out = "{\"error\":{\"message\":";
  append_json_string(out, message);
  out += ",\"type\":";
  append_json_string(out, type);
  out += ",\"param\":null,\"code\":";
  append_json_string(out, code);
  out += ",\"request_id\":";
  append_json_string(out, request_id);
  out += "}}\n";
  return out;
}

std::string_view error_type_for(int status) {
  return status >= 500 ? "server_error" : "invalid_request_error";
}

std::string_view error_code_for(http::parse_error e) {
  switch (http::status_for(e)) {
    case 408:
      return "request_timeout";
    case 413:
      return "request_too_large";
    case 414:
      return "request_line_too_long";
    case 431:
      return "headers_too_large";
    case 501:
      return "not_implemented";
    case 505:
      return "http_version_not_supported";
    case 417:
      return "expectation_failed";
    default:
      return "bad_request";
  }
}

bool starts_with_icase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && http::iequals(s.substr(0, prefix.size()), prefix);
}

enum class next_step : std::uint8_t { keep_alive, close, linger_close };

struct connection_count_guard {
  explicit connection_count_guard(metrics& m) : m_(m) { m_.active_connections.fetch_add(1, std::memory_order_relaxed); }
  ~connection_count_guard() { m_.active_connections.fetch_sub(1, std::memory_order_relaxed); }
  connection_count_guard(const connection_count_guard&) = delete;
  connection_count_guard& operator=(const connection_count_guard&) = delete;
  metrics& m_;
};

class session : public std::enable_shared_from_this<session> {
 public:
  session(worker& w, std::shared_ptr<connection> client, const tcp::endpoint& peer)
      : w_(w), cfg_(*w.shared.cfg), client_(std::move(client)), peer_ip_(peer.address().to_string()),
        peer_port_(peer.port()) {
    if (client_->ssl() != nullptr) {
      client_cn_ = peer_common_name(client_->ssl());
    }
  }
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // Waits for the first request. Between requests no coroutine frame stays alive: an idle
  // connection is this object plus one readiness wait (park), which keeps idle memory small.
  void start() { park(cfg_.timeouts.request_header); }

 private:
  void park(milliseconds timeout) {
    w_.idle_connections.insert(client_.get());
    client_->async_wait_readable(timeout, [self = shared_from_this()](io_status s) {
      self->w_.idle_connections.erase(self->client_.get());
      if (s != io_status::ok) {
        self->client_->close();  // idle timeout, drain, or the client left: close quietly
        return;
      }
      asio::co_spawn(self->w_.ioc, self->serve_ready(), [self](std::exception_ptr e) {
        if (e) {
          self->client_->close();
        }
      });
    });
  }

  // Serves requests while bytes are there, then parks the connection again.
  asio::awaitable<void> serve_ready() {
    while (true) {
      next_step step = co_await handle_one();
      if (step == next_step::linger_close) {
        co_await client_->linger_close(linger_time);
        break;
      }
      if (step != next_step::keep_alive || !client_->is_open()) {
        break;
      }
      if (inbuf_.empty()) {
        if (w_.shared.draining.load(std::memory_order_relaxed)) {
          break;
        }
        std::string().swap(inbuf_);  // an idle connection keeps no read buffer
        park(cfg_.timeouts.keep_alive_idle);
        co_return;
      }
    }
    client_->close();
  }

  asio::awaitable<next_step> handle_one() {
    request_context ctx;
    ctx.started = clock::now();
    ctx.received_at = std::chrono::system_clock::now();
    ctx.request_id = make_request_id(w_.rng);
    ctx.client_ip = peer_ip_;
    ctx.client_port = peer_port_;
    ctx.client_certificate_cn = client_cn_;

    next_step step = co_await read_request(ctx);
    if (ctx.status == 0 && step == next_step::keep_alive) {
      step = co_await process(ctx);
    }
    if (ctx.status != 0) {
      finish(ctx);
    }
    co_return step;
  }

  // read: head and body, strictly framed. Answers framing errors itself (ctx.status set).
  asio::awaitable<next_step> read_request(request_context& ctx) {
    http::head_scanner scanner(cfg_.http, true);
    const clock::time_point deadline = clock::now() + cfg_.timeouts.request_header;
    while (true) {
      http::head_scanner::state st = scanner.scan(inbuf_);
      if (st == http::head_scanner::state::complete) {
        break;
      }
      if (st == http::head_scanner::state::error) {
        co_return co_await reject(ctx, scanner.error());
      }
      auto left = std::chrono::duration_cast<milliseconds>(deadline - clock::now());
      if (left.count() <= 0) {
        co_return co_await reject_timeout(ctx);
      }
      connection::read_result r = co_await client_->read_into(inbuf_, read_chunk, left);
      if (r.status == io_status::timeout) {
        co_return co_await reject_timeout(ctx);
      }
      if (r.status != io_status::ok) {
        co_return next_step::close;  // the client left mid-head: nobody to answer
      }
    }
    std::string raw = inbuf_.substr(0, scanner.head_size());
    inbuf_.erase(0, scanner.head_size());
    if (http::parse_error e = http::parse_request_head(std::move(raw), cfg_.http, ctx.head);
        e != http::parse_error::none) {
      co_return co_await reject(ctx, e);
    }
    if (ctx.head.framing == http::body_framing::none) {
      co_return next_step::keep_alive;
    }
    if (ctx.head.expect_continue && inbuf_.empty()) {
      if (co_await client_->write("HTTP/1.1 100 Continue\r\n\r\n", {}, cfg_.timeouts.request_body) != io_status::ok) {
        co_return next_step::close;
      }
    }
    if (ctx.head.framing == http::body_framing::content_length) {
      co_return co_await read_fixed_body(ctx);
    }
    co_return co_await read_chunked_body(ctx);
  }

  asio::awaitable<next_step> read_fixed_body(request_context& ctx) {
    const std::size_t n = static_cast<std::size_t>(ctx.head.content_length);
    while (inbuf_.size() < n) {
      connection::read_result r =
          co_await client_->read_into(inbuf_, std::min(read_chunk, n - inbuf_.size()), cfg_.timeouts.request_body);
      if (r.status == io_status::timeout) {
        co_return co_await reject_timeout(ctx);
      }
      if (r.status != io_status::ok) {
        co_return next_step::close;
      }
    }
    if (inbuf_.size() == n) {
      ctx.body.swap(inbuf_);
      inbuf_.clear();
    } else {
      ctx.body = inbuf_.substr(0, n);
      inbuf_.erase(0, n);
    }
    co_return next_step::keep_alive;
  }

  asio::awaitable<next_step> read_chunked_body(request_context& ctx) {
    http::chunk_decoder decoder(cfg_.http.max_body_bytes);
    while (true) {
      std::size_t consumed = 0;
      http::chunk_decoder::state st = decoder.feed(inbuf_, consumed, ctx.body);
      inbuf_.erase(0, consumed);
      if (st == http::chunk_decoder::state::done) {
        co_return next_step::keep_alive;
      }
      if (st == http::chunk_decoder::state::error) {
        co_return co_await reject(ctx, decoder.error());
      }
      connection::read_result r = co_await client_->read_into(inbuf_, read_chunk, cfg_.timeouts.request_body);
      if (r.status == io_status::timeout) {
        co_return co_await reject_timeout(ctx);
      }
      if (r.status != io_status::ok) {
        co_return next_step::close;
      }
    }
  }

  // identify -> classify -> decide -> route -> forward -> relay.
  asio::awaitable<next_step> process(request_context& ctx) {
    const pipeline& stages = *w_.shared.stages;
    stage_result r = stages.identify(ctx);
    if (r.proceed) {
      r = stages.classify(ctx);
    }
    if (r.proceed) {
      r = stages.decide(ctx);
    }
    if (r.proceed) {
      r = stages.route(ctx, [this](int c) { return w_.pool.cluster_available(c); });
    }
    if (!r.proceed) {
      ctx.error_kind = r.code;
      co_return co_await respond_error(ctx, r.status, r.type, r.code, r.message, !keep_alive(ctx));
    }
    co_return co_await forward(ctx);
  }

  [[nodiscard]] bool keep_alive(const request_context& ctx) const {
    return ctx.head.keep_alive && !w_.shared.draining.load(std::memory_order_relaxed);
  }

  asio::awaitable<next_step> reject(request_context& ctx, http::parse_error e) {
    ctx.error_kind = error_code_for(e);
    int status = http::status_for(e);
    co_await respond_error(ctx, status, error_type_for(status), error_code_for(e), http::describe(e), true);
    co_return next_step::linger_close;
  }

  asio::awaitable<next_step> reject_timeout(request_context& ctx) {
    ctx.error_kind = "request_timeout";
    co_await respond_error(ctx, 408, "invalid_request_error", "request_timeout",
                           "the request was not received in time", true);
    co_return next_step::linger_close;
  }

  // An OpenAI-style JSON error. `close` adds Connection: close.
  asio::awaitable<next_step> respond_error(request_context& ctx, int status, std::string_view type,
                                           std::string_view code, std::string_view message, bool close) {
    std::string body = error_body(type, code, message, ctx.request_id);
    std::string head = fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nX-Request-Id: {}\r\n{}\r\n",
        status, reason_phrase(status), body.size(), ctx.request_id, close ? "Connection: close\r\n" : "");
    ctx.status = status;
    bool head_only = ctx.head.method == "HEAD";
    ctx.response_bytes = head_only ? 0 : body.size();
    // An error answer carries nothing of a cluster's, so it goes out even if the record failed.
    (void)co_await record_durably(ctx);
    io_status s = co_await client_->write(head, head_only ? std::string_view() : body, cfg_.timeouts.stream_idle);
    co_return (s != io_status::ok || close) ? next_step::close : next_step::keep_alive;
  }

  // Waits until the request's audit record is durable (at once without an audit log). Called
  // before the last bytes of a response: a client that got a complete answer knows its request is
  // on the log. False when the record could not be written; relay then withholds the end of the
  // response (fail closed: the client sees a truncated answer, never an unrecorded complete one).
  asio::awaitable<bool> record_durably(request_context& ctx) {
    const pipeline& stages = *w_.shared.stages;
    if (!stages.records_before_response() || ctx.audit_recorded) {
      co_return true;
    }
    const double seconds = std::chrono::duration<double>(clock::now() - ctx.started).count();
    audit::status s = co_await async_record(stages, ctx, seconds);
    ctx.audit_recorded = true;  // finish() must not append it a second time, durable or not
    if (!s.is_ok()) {
      ctx.error_kind = "audit_unavailable";
      log_line("error", "audit append failed").str("request_id", ctx.request_id).str("error", s.message()).emit();
      co_return false;
    }
    co_return true;
  }

  // The awaitable side of pipeline::record_durably. Not a coroutine: the initiation's captures
  // stay out of co_await expressions (GCC 12 destroys such temporaries twice).
  static asio::awaitable<audit::status> async_record(const pipeline& stages, request_context& ctx, double seconds) {
    return asio::async_initiate<const asio::use_awaitable_t<>&, void(audit::status)>(
        [&stages, &ctx, seconds](auto handler) {
          auto ex = asio::get_associated_executor(handler);
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          stages.record_durably(ctx, seconds, [h, ex](const audit::status& st) {
            asio::post(ex, [h, st]() mutable { std::move(*h)(st); });
          });
        },
        asio::use_awaitable);
  }

  // forward: the request to a compliant cluster; relay: its answer back, watching the client.
  asio::awaitable<next_step> forward(request_context& ctx) {
    upstream_pool::failure why;
    upstream_pool::lease lease = co_await w_.pool.acquire(ctx.cluster, why);
    const std::string& cluster_name = cfg_.clusters[static_cast<std::size_t>(ctx.cluster)].name;
    if (!lease.conn) {
      ctx.error_kind = "upstream_connect";
      log_line("warn", "no upstream connection")
          .str("request_id", ctx.request_id)
          .str("cluster", cluster_name)
          .str("detail", why.detail)
          .emit();
      if (why.kind == upstream_error_kind::tls) {
        co_return co_await respond_error(ctx, 502, "server_error", "upstream_tls_error",
                                         fmt::format("cluster '{}' failed TLS verification", cluster_name),
                                         !keep_alive(ctx));
      }
      if (why.kind == upstream_error_kind::timeout) {
        co_return co_await respond_error(ctx, 504, "server_error", "upstream_timeout",
                                         fmt::format("connecting to cluster '{}' timed out", cluster_name),
                                         !keep_alive(ctx));
      }
      co_return co_await respond_error(ctx, 503, "server_error", "cluster_unavailable",
                                       fmt::format("cluster '{}' is unavailable; try again later", cluster_name),
                                       !keep_alive(ctx));
    }
    ctx.endpoint = lease.endpoint->label;
    ctx.upstream_reused = lease.reused;

    auto watch = std::make_shared<client_watch>();
    watch->upstream = lease.conn;
    watch_client(watch);
    auto [step, reusable] = co_await exchange(ctx, lease);
    watch->active = false;
    client_->cancel_pending();
    if (watch->gone) {
      ctx.error_kind = "client_disconnected";
      if (ctx.status == 0) {
        ctx.status = 499;  // nginx's convention: the client closed the request
      }
      step = next_step::close;
      reusable = false;
      w_.shared.stats->client_disconnects.fetch_add(1, std::memory_order_relaxed);
    }
    w_.pool.release(ctx.cluster, std::move(lease), reusable);
    co_return step;
  }

  struct client_watch {
    bool active = true;
    bool gone = false;
    char peek = 0;
    std::shared_ptr<connection> upstream;
  };

  // While a request is at the cluster, a client that goes away (closes, resets, or sends TLS
  // close_notify) cancels it. Pipelined data from a live client ends the watch.
  // A one-byte MSG_PEEK receive rather than a readiness wait: Asio queues a receive without a
  // syscall (a wait costs an epoll_ctl), and peeking leaves the bytes for OpenSSL.
  void watch_client(const std::shared_ptr<client_watch>& watch) {
    client_->socket().async_receive(asio::buffer(&watch->peek, 1), tcp::socket::message_peek,
                                    [client = client_, watch](const boost::system::error_code& ec, std::size_t) {
                                      if (ec == asio::error::operation_aborted || !watch->active) {
                                        return;
                                      }
                                      if (ec || client->peer_gone()) {
                                        watch->gone = true;
                                        watch->upstream->cancel();
                                      }
                                    });
  }

  std::string upstream_request_head(const request_context& ctx, const upstream_cluster& up) const {
    const http::message_head& h = ctx.head;
    std::string out;
    out.reserve(h.raw.size() + 256);
    out += h.method;
    out += ' ';
    out += h.target;
    out += " HTTP/1.1\r\n";
    append_field(out, "Host", up.host_header);
    std::string xff;
    std::string forwarded;
    for (const http::field& f : h.fields) {
      if (http::is_hop_by_hop(h, f.name) || http::iequals(f.name, "host") || http::iequals(f.name, "content-length") ||
          http::iequals(f.name, "expect") || http::iequals(f.name, "x-request-id") ||
          http::iequals(f.name, "x-forwarded-proto") || starts_with_icase(f.name, "sovereign-")) {
        continue;
      }
      if (http::iequals(f.name, "x-forwarded-for")) {
        xff += xff.empty() ? "" : ", ";
        xff += f.value;
        continue;
      }
      if (http::iequals(f.name, "forwarded")) {
        forwarded += forwarded.empty() ? "" : ", ";
        forwarded += f.value;
        continue;
      }
      append_field(out, f.name, f.value);
    }
    xff += xff.empty() ? "" : ", ";
    xff += ctx.client_ip;
    append_field(out, "X-Forwarded-For", xff);
    bool v6 = ctx.client_ip.find(':') != std::string::npos;
    forwarded += forwarded.empty() ? "for=" : ", for=";
    forwarded += v6 ? "\"[" : "";
    forwarded += ctx.client_ip;
    forwarded += v6 ? "]\";proto=https" : ";proto=https";
    append_field(out, "Forwarded", forwarded);
    append_field(out, "X-Forwarded-Proto", "https");
    append_field(out, "X-Request-Id", ctx.request_id);
    if (!ctx.body.empty() || h.method == "POST" || h.method == "PUT" || h.method == "PATCH") {
      out += "Content-Length: ";
      append_number(out, ctx.body.size());
      out += "\r\n";
    }
    out += "\r\n";
    return out;
  }

  // Sends the request and relays the answer. Returns the next step for the client connection and
  // whether the upstream connection may be reused.
  asio::awaitable<std::pair<next_step, bool>> exchange(request_context& ctx, upstream_pool::lease& lease) {
    const upstream_cluster& up = *w_.shared.upstreams[static_cast<std::size_t>(ctx.cluster)];
    connection& upstream = *lease.conn;
    std::string head = upstream_request_head(ctx, up);
    if (ctx.body.size() <= 16 * 1024) {
      head += ctx.body;
      co_return co_await exchange_sent(ctx, lease, co_await upstream.write(head, {}, cfg_.timeouts.stream_idle));
    }
    co_return co_await exchange_sent(ctx, lease, co_await upstream.write(head, ctx.body, cfg_.timeouts.stream_idle));
  }

  asio::awaitable<std::pair<next_step, bool>> upstream_failed(request_context& ctx, upstream_pool::lease& lease,
                                                              upstream_error_kind kind, io_status s,
                                                              std::string_view what) {
    if (s == io_status::cancelled) {
      co_return std::pair{next_step::close, false};  // the client left; not the cluster's fault
    }
    w_.shared.stats->upstream_error(ctx.cluster, kind);
    w_.pool.report_failure(ctx.cluster, *lease.endpoint);
    const std::string& cluster_name = cfg_.clusters[static_cast<std::size_t>(ctx.cluster)].name;
    log_line("warn", "upstream failed")
        .str("request_id", ctx.request_id)
        .str("cluster", cluster_name)
        .str("endpoint", lease.endpoint->label)
        .str("stage", what)
        .str("io", to_string(s))
        .boolean("reused_connection", lease.reused)
        .emit();
    if (s == io_status::timeout) {
      ctx.error_kind = "upstream_timeout";
      co_return std::pair{co_await respond_error(ctx, 504, "server_error", "upstream_timeout",
                                                 fmt::format("cluster '{}' did not answer in time", cluster_name),
                                                 !keep_alive(ctx)),
                          false};
    }
    ctx.error_kind = kind == upstream_error_kind::protocol ? "upstream_protocol" : "upstream_reset";
    co_return std::pair{co_await respond_error(ctx, 502, "server_error", "upstream_error",
                                               fmt::format("cluster '{}' failed: {}", cluster_name, what),
                                               !keep_alive(ctx)),
                        false};
  }

  asio::awaitable<std::pair<next_step, bool>> exchange_sent(request_context& ctx, upstream_pool::lease& lease,
                                                            io_status sent) {
    connection& upstream = *lease.conn;
    if (sent != io_status::ok) {
      co_return co_await upstream_failed(ctx, lease, upstream_error_kind::reset, sent, "sending the request");
    }
    // Response head; 1xx interim responses (other than 101) are dropped.
    std::string upbuf;
    http::message_head up;
    http::limits response_limits;
    response_limits.max_request_line = 8 * 1024;
    response_limits.max_head_bytes = 64 * 1024;
    // The answer cannot be there yet: wait for it rather than try a read that would fail.
    if (io_status w = co_await upstream.wait_readable(cfg_.timeouts.upstream_response); w != io_status::ok) {
      co_return co_await upstream_failed(
          ctx, lease, w == io_status::timeout ? upstream_error_kind::timeout : upstream_error_kind::reset, w,
          "waiting for the response");
    }
    while (true) {
      http::head_scanner scanner(response_limits, false);
      http::head_scanner::state st = scanner.scan(upbuf);
      while (st == http::head_scanner::state::need_more) {
        connection::read_result r = co_await upstream.read_into(upbuf, read_chunk, cfg_.timeouts.upstream_response);
        if (r.status != io_status::ok) {
          co_return co_await upstream_failed(ctx, lease,
                                             r.status == io_status::timeout ? upstream_error_kind::timeout
                                                                            : upstream_error_kind::reset,
                                             r.status, "waiting for the response");
        }
        st = scanner.scan(upbuf);
      }
      if (st == http::head_scanner::state::error) {
        co_return co_await upstream_failed(ctx, lease, upstream_error_kind::protocol, io_status::error,
                                           "malformed response head");
      }
      std::string raw = upbuf.substr(0, scanner.head_size());
      upbuf.erase(0, scanner.head_size());
      if (http::parse_response_head(std::move(raw), ctx.head.method, up) != http::parse_error::none ||
          up.status == 101) {
        co_return co_await upstream_failed(ctx, lease, upstream_error_kind::protocol, io_status::error,
                                           "malformed response head");
      }
      if (up.status >= 200) {
        break;
      }
    }
    w_.pool.report_success(*lease.endpoint);
    co_return co_await relay(ctx, lease, up, upbuf);
  }

  std::string client_response_head(const request_context& ctx, const http::message_head& up, bool chunked,
                                   bool close) const {
    std::string out;
    out.reserve(up.raw.size() + 128);
    out += "HTTP/1.1 ";
    append_number(out, static_cast<std::uint64_t>(up.status));
    out += ' ';
    out += up.reason.empty() ? reason_phrase(up.status) : up.reason;
    out += "\r\n";
    for (const http::field& f : up.fields) {
      if (http::is_hop_by_hop(up, f.name) || http::iequals(f.name, "x-request-id") ||
          (http::iequals(f.name, "content-length") && up.framing != http::body_framing::none)) {
        continue;
      }
      append_field(out, f.name, f.value);
    }
    append_field(out, "X-Request-Id", ctx.request_id);
    if (up.framing == http::body_framing::content_length) {
      out += "Content-Length: ";
      append_number(out, up.content_length);
      out += "\r\n";
    } else if (chunked) {
      out += "Transfer-Encoding: chunked\r\n";
    }
    if (close) {
      out += "Connection: close\r\n";
    }
    out += "\r\n";
    return out;
  }

  static void append_chunk(std::string& out, std::string_view data, bool chunked) {
    if (data.empty()) {
      return;
    }
    if (chunked) {
      fmt::format_to(std::back_inserter(out), "{:x}\r\n", data.size());
    }
    out += data;
    if (chunked) {
      out += "\r\n";
    }
  }

  // relay: one chunk in flight. A slow client makes the write wait, and nothing more is read from
  // the cluster until it completes (backpressure). Each wait has the per-chunk idle timeout only.
  asio::awaitable<std::pair<next_step, bool>> relay(request_context& ctx, upstream_pool::lease& lease,
                                                    const http::message_head& up, std::string& upbuf) {
    connection& upstream = *lease.conn;
    const bool client_http10 = ctx.head.version_minor == 0;
    const bool streamed = up.framing == http::body_framing::chunked || up.framing == http::body_framing::until_close;
    const bool chunked = streamed && !client_http10;
    const bool close = !keep_alive(ctx) || (streamed && client_http10);
    ctx.status = up.status;
    std::string out = client_response_head(ctx, up, chunked, close);
    const next_step after = close ? next_step::close : next_step::keep_alive;
    const milliseconds idle = cfg_.timeouts.stream_idle;
    const bool capture = w_.shared.stages->captures_completion(ctx);
    auto keep = [&](std::string_view data) {
      constexpr std::size_t max_completion = 1024 * 1024;  // the audit payload keeps the first MiB
      if (capture && ctx.completion.size() < max_completion) {
        ctx.completion.append(data.substr(0, max_completion - ctx.completion.size()));
      }
    };

    auto client_failed = [&](io_status s) {
      ctx.error_kind = s == io_status::timeout ? "client_write_timeout" : "client_write_failed";
      return std::pair{next_step::close, false};
    };
    auto upstream_mid_body = [&](std::string_view kind, io_status s) {
      if (s == io_status::cancelled) {
        return std::pair{next_step::close, false};  // the client left; not the cluster's fault
      }
      ctx.error_kind = std::string(kind);
      w_.shared.stats->upstream_error(ctx.cluster, upstream_error_kind::reset);
      w_.pool.report_failure(ctx.cluster, *lease.endpoint);
      log_line("warn", "upstream failed mid-body")
          .str("request_id", ctx.request_id)
          .str("endpoint", lease.endpoint->label)
          .str("error", kind)
          .emit();
      return std::pair{next_step::close, false};  // the client sees a truncated body
    };

    if (up.framing == http::body_framing::none) {
      if (!co_await record_durably(ctx)) {
        co_return std::pair{next_step::close, false};
      }
      io_status s = co_await client_->write(out, {}, idle);
      if (s != io_status::ok) {
        co_return client_failed(s);
      }
      co_return std::pair{after, up.keep_alive && upbuf.empty()};
    }

    if (up.framing == http::body_framing::content_length) {
      std::uint64_t remaining = up.content_length;
      while (true) {
        std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, upbuf.size()));
        keep(std::string_view(upbuf).substr(0, take));
        out.append(upbuf, 0, take);
        upbuf.erase(0, take);
        remaining -= take;
        ctx.response_bytes += take;
        if (remaining == 0 && !co_await record_durably(ctx)) {
          co_return std::pair{next_step::close, false};
        }
        if (!out.empty()) {
          io_status s = co_await client_->write(out, {}, idle);
          if (s != io_status::ok) {
            co_return client_failed(s);
          }
          out.clear();
        }
        if (remaining == 0) {
          break;
        }
        connection::read_result r = co_await upstream.read_into(
            upbuf, static_cast<std::size_t>(std::min<std::uint64_t>(read_chunk, remaining)), idle);
        if (r.status != io_status::ok) {
          co_return upstream_mid_body(
              r.status == io_status::timeout ? "upstream_stream_timeout" : "upstream_reset_mid_body", r.status);
        }
      }
      co_return std::pair{after, up.keep_alive && upbuf.empty()};
    }

    http::chunk_decoder decoder(UINT64_MAX);
    std::string decoded;
    while (true) {
      bool done = false;
      decoded.clear();
      if (up.framing == http::body_framing::chunked) {
        std::size_t consumed = 0;
        http::chunk_decoder::state st = decoder.feed(upbuf, consumed, decoded);
        upbuf.erase(0, consumed);
        if (st == http::chunk_decoder::state::error) {
          co_return upstream_mid_body("upstream_bad_chunking", io_status::error);
        }
        done = st == http::chunk_decoder::state::done;
      } else {
        decoded.swap(upbuf);
      }
      ctx.response_bytes += decoded.size();
      keep(decoded);
      append_chunk(out, decoded, chunked);
      if (done && !co_await record_durably(ctx)) {
        co_return std::pair{next_step::close, false};
      }
      if (done && chunked) {
        out += "0\r\n\r\n";
      }
      if (!out.empty()) {
        io_status s = co_await client_->write(out, {}, idle);
        if (s != io_status::ok) {
          co_return client_failed(s);
        }
        out.clear();
      }
      if (done) {
        co_return std::pair{after, up.keep_alive && upbuf.empty()};
      }
      connection::read_result r = co_await upstream.read_into(upbuf, read_chunk, idle);
      if (r.status == io_status::eof && up.framing == http::body_framing::until_close) {
        if (!co_await record_durably(ctx)) {
          co_return std::pair{next_step::close, false};
        }
        if (chunked) {
          io_status s = co_await client_->write("0\r\n\r\n", {}, idle);
          if (s != io_status::ok) {
            co_return client_failed(s);
          }
        }
        co_return std::pair{after, false};
      }
      if (r.status != io_status::ok) {
        co_return upstream_mid_body(
            r.status == io_status::timeout ? "upstream_stream_timeout" : "upstream_reset_mid_body", r.status);
      }
    }
  }

  void finish(const request_context& ctx) {
    double seconds = std::chrono::duration<double>(clock::now() - ctx.started).count();
    w_.shared.stats->request_done(ctx.cluster, ctx.status, seconds);
    if (!ctx.data_classes.empty()) {
      w_.shared.stats->classified_requests.fetch_add(1, std::memory_order_relaxed);
    }
    if (ctx.redactions > 0) {
      w_.shared.stats->redactions.fetch_add(ctx.redactions, std::memory_order_relaxed);
    }
    w_.shared.stages->record(ctx, seconds);
  }

  worker& w_;
  const config& cfg_;
  std::shared_ptr<connection> client_;
  std::string peer_ip_;
  std::uint16_t peer_port_;
  std::string client_cn_;
  std::string inbuf_;
  connection_count_guard counted_{*w_.shared.stats};  // the connection is active while the session lives
};


}  // namespace

asio::awaitable<void> serve_connection(worker& w, tcp::socket socket) {
  metrics& stats = *w.shared.stats;
  stats.connections_total.fetch_add(1, std::memory_order_relaxed);
  connection_count_guard guard(stats);  // for the handshake; the session counts itself afterwards
  boost::system::error_code ec;
  tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) {
    co_return;
  }
  std::shared_ptr<SSL_CTX> tls = w.shared.server_tls.load();
  ssl_ptr ssl(SSL_new(tls.get()));
  if (!ssl) {
    co_return;
  }
  SSL_set_accept_state(ssl.get());
  auto client = std::make_shared<connection>(std::move(socket), std::move(ssl));
  std::string detail;
  if (co_await client->handshake(w.shared.cfg->timeouts.handshake, detail) != io_status::ok) {
    stats.tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
    client->close();
    co_return;
  }
  std::make_shared<session>(w, std::move(client), peer)->start();
}

namespace {

// The value of `name` in a request target's query string, percent-decoded; nullopt when absent
// or malformed.
std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) {
      continue;
    }
    const std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        out += ' ';
      } else if (raw[i] != '%') {
        out += raw[i];
      } else {
        unsigned value = 0;
        if (i + 2 >= raw.size() ||
            std::from_chars(raw.data() + i + 1, raw.data() + i + 3, value, 16).ptr != raw.data() + i + 3) {
          return std::nullopt;
        }
        out += static_cast<char>(value);
        i += 2;
      }
    }
    return out;
  }
  return std::nullopt;
}

bool is_loopback_peer(const tcp::socket& socket) {
  boost::system::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  return !ec && peer.address().is_loopback();
}

struct admin_answer {
  int status = 200;
  std::string body;  // JSON
};

admin_answer admin_error(int status, std::string_view message) {
  std::string body = "{\"error\":{\"message\":";
  append_json_string(body, message);
  body += "}}\n";
  return {status, std::move(body)};
}

// Runs an audit maintenance job off the event loop (shredding and retention flush and compact
// RocksDB) and resumes with its answer. One job at a time: 409 while another runs. Deliberately
// not a coroutine, and `job` is taken from the caller's frame: GCC 12 destroys temporaries with
// non-trivial destructors in a co_await expression twice.
asio::awaitable<admin_answer> run_audit_job(worker& w, std::function<admin_answer()>& job) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(admin_answer)>(
      [&st = w.shared, &job](auto handler) {
        std::function<admin_answer()> work = std::move(job);
        auto ex = asio::get_associated_executor(handler);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        if (st.audit_job_busy.exchange(true)) {
          asio::post(ex, [h]() mutable {
            std::move(*h)(admin_error(409, "another audit job is running; try again when it has finished"));
          });
          return;
        }
        std::lock_guard lock(st.audit_job_mutex);
        if (st.audit_job.joinable()) {
          st.audit_job.join();  // the previous job is done (it cleared audit_job_busy)
        }
        st.audit_job = std::thread([&st, work = std::move(work), h, ex]() mutable {
          admin_answer answer = work();
          st.audit_job_busy.store(false);
          asio::post(ex, [h, answer = std::move(answer)]() mutable { std::move(*h)(std::move(answer)); });
        });
      },
      asio::use_awaitable);
}

// POST /admin/audit/shred?tenant=T and POST /admin/audit/retain?older_than=90d: the auditors'
// `shred` and `retain` for a log a running gateway holds open (the CLI cannot open it then).
asio::awaitable<admin_answer> audit_admin(worker& w, std::string_view path, std::string_view target) {
  audit::audit_log* log = w.shared.audit.get();
  if (log == nullptr) {
    co_return admin_error(404, "this gateway has no audit log (no audit: section in its config)");
  }
  if (w.shared.draining.load(std::memory_order_relaxed)) {
    co_return admin_error(503, "the gateway is shutting down; run the job with the sovgw audit CLI once it has stopped");
  }
  if (path == "/admin/audit/shred") {
    const auto tenant = query_param(target, "tenant");
    if (!tenant || tenant->empty() || tenant->size() > 1024) {
      co_return admin_error(400, "name the tenant: POST /admin/audit/shred?tenant=T (percent-encoded)");
    }
    std::function<admin_answer()> job = [log, tenant = *tenant] {
      auto seq = log->shred_tenant(tenant);
      if (!seq.is_ok()) {
        return admin_error(seq.error().code() == audit::error_code::not_found ? 404 : 500, seq.error().message());
      }
      log_line("info", "audit tenant shredded").str("tenant", tenant).num("record", static_cast<std::int64_t>(seq.value())).emit();
      std::string body = "{\"tenant\":";
      append_json_string(body, tenant);
      body += fmt::format(
          ",\"record\":{},\"message\":\"the tenant's data keys are destroyed: its payloads are unreadable; "
          "records and proofs stay valid\"}}\n",
          seq.value());
      return admin_answer{200, std::move(body)};
    };
    co_return co_await run_audit_job(w, job);
  }
  const auto age_text = query_param(target, "older_than");
  const auto age = age_text ? audit::parse_age_seconds(*age_text) : std::nullopt;
  if (!age) {
    co_return admin_error(400, "give the retention age: POST /admin/audit/retain?older_than=90d (d, h, m or s)");
  }
  std::function<admin_answer()> job = [log, age = *age, age_text = *age_text] {
    const auto now = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                    std::chrono::system_clock::now().time_since_epoch())
                                                    .count());
    const std::uint64_t age_us = age * 1000000;
    auto dropped = log->drop_payloads_before(now > age_us ? now - age_us : 0);
    if (!dropped.is_ok()) {
      return admin_error(500, dropped.error().message());
    }
    log_line("info", "audit retention run").str("older_than", age_text).num("dropped", static_cast<std::int64_t>(dropped.value())).emit();
    std::string body = fmt::format("{{\"dropped\":{},\"older_than\":", dropped.value());
    append_json_string(body, age_text);
    body += ",\"message\":\"payloads past retention are deleted; their records stay provable\"}\n";
    return admin_answer{200, std::move(body)};
  };
  co_return co_await run_audit_job(w, job);
}

}  // namespace

asio::awaitable<void> serve_admin_connection(worker& w, tcp::socket socket) {
  // Audit jobs destroy data: they are taken from loopback peers only, whatever address the admin
  // listener is bound to (it has no authentication of its own).
  const bool loopback_peer = is_loopback_peer(socket);
  auto conn = std::make_shared<connection>(std::move(socket), nullptr);
  std::string buf;
  http::limits lim;
  while (true) {
    http::head_scanner scanner(lim, true);
    http::head_scanner::state st = scanner.scan(buf);
    while (st == http::head_scanner::state::need_more) {
      connection::read_result r = co_await conn->read_into(buf, 4096, milliseconds(10000));
      if (r.status != io_status::ok) {
        conn->close();
        co_return;
      }
      st = scanner.scan(buf);
    }
    http::message_head head;
    if (st == http::head_scanner::state::error ||
        http::parse_request_head(buf.substr(0, scanner.head_size()), lim, head) != http::parse_error::none ||
        (head.framing != http::body_framing::none &&
         !(head.framing == http::body_framing::content_length && head.content_length == 0))) {
      co_await conn->write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", {},
                           milliseconds(5000));
      co_await conn->linger_close(linger_time);
      co_return;
    }
    buf.erase(0, scanner.head_size());
    std::string_view path = head.target.substr(0, head.target.find('?'));
    int status = 200;
    std::string body;
    std::string_view type = "text/plain; charset=utf-8";
    bool draining = w.shared.draining.load(std::memory_order_relaxed);
    const bool admin_job = path == "/admin/audit/shred" || path == "/admin/audit/retain";
    if (admin_job && head.method == "POST") {
      admin_answer a = admin_error(403, "audit jobs are accepted from the loopback interface only");
      if (loopback_peer) {
        a = co_await audit_admin(w, path, head.target);
      }
      status = a.status;
      body = std::move(a.body);
      type = "application/json";
    } else if (admin_job || (head.method != "GET" && head.method != "HEAD")) {
      status = 405;
      body = admin_job ? "use POST\n" : "method not allowed\n";
    } else if (path == "/healthz") {
      body = "ok\n";
    } else if (path == "/readyz") {
      status = draining ? 503 : 200;
      body = draining ? "draining\n" : "ready\n";
    } else if (path == "/metrics") {
      body = w.shared.stats->render();
      if (w.shared.audit) {
        body += render_audit_metrics(*w.shared.audit);
      }
      type = "text/plain; version=0.0.4; charset=utf-8";
    } else {
      status = 404;
      body = "not found; try /healthz, /readyz, /metrics, POST /admin/audit/shred or POST /admin/audit/retain\n";
    }
    std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}\r\n", status,
                                  reason_phrase(status), type, body.size(),
                                  head.keep_alive ? "" : "Connection: close\r\n");
    if (co_await conn->write(out, head.method == "HEAD" ? std::string_view() : body, milliseconds(10000)) !=
            io_status::ok ||
        !head.keep_alive) {
      conn->close();
      co_return;
    }
  }
}

}  // namespace sovgw::gateway
