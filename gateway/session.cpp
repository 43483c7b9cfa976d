#include "gateway/session.hpp"

// GCC 12 false positive (GCC PR 109224): when it inlines a coroutine's frame allocation through
// Asio's recycling allocator it sees aligned_alloc paired with the frame's sized operator delete,
// which is Asio's own matching deallocate. Which coroutine it trips on depends on inlining
// decisions that unrelated header changes move around.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "gateway/buffer_pool.hpp"
#include "gateway/client_address.hpp"
#include "gateway/forward.hpp"
#include "gateway/log.hpp"
#include "gateway/models_endpoint.hpp"
#include "gateway/proxy_protocol.hpp"
#include "gateway/relay.hpp"
#include "gateway/responses.hpp"

namespace sovgw::gateway {

namespace {

using clock = std::chrono::steady_clock;

constexpr std::size_t read_chunk = 16 * 1024;
constexpr milliseconds linger_time{2000};
// The largest body of a request refused by its head that is still read, to keep the connection.
constexpr std::uint64_t discarded_body_limit = 64 * 1024;

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

struct connection_count_guard {
  explicit connection_count_guard(metrics& m) : m_(m) {
    m_.active_connections.fetch_add(1, std::memory_order_relaxed);
  }
  ~connection_count_guard() { m_.active_connections.fetch_sub(1, std::memory_order_relaxed); }
  connection_count_guard(const connection_count_guard&) = delete;
  connection_count_guard& operator=(const connection_count_guard&) = delete;
  metrics& m_;
};

stage_result client_left() {
  return stage_result::respond(outcome::client_disconnected, "the client went away");
}
stage_result timed_out() {
  return stage_result::respond(outcome::request_timeout, "the request was not received in time");
}
stage_result framing_error(http::parse_error e) {
  return stage_result::respond(outcome_for(e), std::string(http::describe(e)));
}

class session : public std::enable_shared_from_this<session> {
 public:
  session(worker& w, std::shared_ptr<connection> client, const tcp::endpoint& peer,
          std::string proxy_source_ip)
      : w_(w),
        cfg_(*w.shared.cfg),
        client_(std::move(client)),
        peer_ip_(peer.address().to_string()),
        peer_port_(peer.port()),
        proxy_source_ip_(std::move(proxy_source_ip)) {
    if (client_->ssl() != nullptr) {
      client_certificate_ = read_client_certificate(client_->ssl());
    }
  }
  // Every path out of serve_ready parks or closes; this is the safety net for one that would not:
  // the client's queued receive (connection::on_readable) holds the connection until it completes.
  ~session() { client_->close(); }
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // Waits for the first request. Between requests no coroutine frame stays alive: an idle
  // connection is this object plus one readiness wait (park), which keeps idle memory small.
  void start() { park(cfg_.timeouts.request_header); }

 private:
  void park(milliseconds timeout) {
    w_.idle_connections.insert(client_.get());
    client_->on_readable(timeout, [self = shared_from_this()](io_status s) {
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
    struct busy {  // cut at the drain deadline while it serves (server::begin_drain)
      std::unordered_set<connection*>& set;
      connection* c;
      busy(std::unordered_set<connection*>& s, connection* conn) : set(s), c(conn) { set.insert(c); }
      ~busy() { set.erase(c); }
      busy(const busy&) = delete;
      busy& operator=(const busy&) = delete;
    } const serving(w_.busy_clients, client_.get());
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
        give_spare(inbuf_);  // an idle connection keeps no read buffer
        park(cfg_.timeouts.keep_alive_idle);
        co_return;
      }
    }
    client_->close();
  }

  // One request, stage by stage (docs/architecture.md names each stage's function).
  asio::awaitable<next_step> handle_one() {
    const request_slot slot;  // off the frame: a request_context is over 1 KiB
    request_context& ctx = *slot;
    accept_request(ctx);                       // 1. accept
    stage_result r = co_await read_head(ctx);  // 2. read: the head
    const pipeline& stages = *w_.shared.stages;
    bool refused_by_head = false;
    if (r.proceed()) {
      r = stages.identify(ctx);  // 3. identify, before the body is read
      if (r.proceed() && ctx.head.framing != http::body_framing::none) {
        r = stages.admit_head(ctx);  // a limit that refuses it whatever it asks (admit checks the rest)
      }
      refused_by_head = !r.proceed();
    } else if (!ctx.head_read) {
      stages.locate_connection(ctx);  // refused before identify: recorded with where it came from
    } else {
      // A Content-Length over max_body_bytes: refused as a chunked body would be once it grew too
      // large, with the client and tenant identified first (probe round 45: a tenant's 413s were
      // recorded as the unidentified `default`), and the key's refusal first if it has one.
      const stage_result who = stages.identify(ctx);
      if (!who.proceed()) {
        r = who;
      }
      refused_by_head = true;
    }
    // A request its head condemns (no, unknown or revoked API key; a refused client certificate; a
    // proxy's bad X-Forwarded-For; a spent monthly budget or per-minute limit) is answered at once: it gets
    // no 100 Continue and a body of more than discarded_body_limit is never read (probe round 37: an
    // unauthenticated client could make the gateway hold a 16 MB body per connection); the connection then
    // closes after the answer. A small body already on its way is read, so that a keep-alive connection (an
    // SDK's, a front proxy's pool) survives a refused key.
    bool body_unread = false;
    if (r.proceed()) {
      r = co_await read_body(ctx);  // 2. read: the body
    } else if (refused_by_head && ctx.head.framing != http::body_framing::none) {
      body_unread = true;
      if (small_body_on_its_way(ctx)) {
        // A named local: GCC 12 destroys a co_await's temporary twice.
        const stage_result discarded = co_await read_body(ctx);
        body_unread = !discarded.proceed();
      }
    }
    next_step after = next_step::linger_close;  // a framing error ends the connection
    std::string_view model_id;
    models_target models = models_target::none;  // GET /v1/models: the gateway answers
    if (r.proceed()) {
      r = stages.identify_body(ctx);  // an API key in the body would reach the cluster
      models = r.proceed() ? models_request(ctx.head, model_id) : models_target::none;
      if (models != models_target::none) {
        r = body_where_none_is_read(ctx);  // (classify says so for every other request)
      }
      if (r.proceed() && models == models_target::none) {
        r = stages.classify(ctx);  // 4. classify
      }
      if (r.proceed()) {
        r = stages.admit(ctx);  // the tenant's, the key's and the model's limits
      }
      if (r.proceed() && models == models_target::none) {
        r = stages.decide(ctx);  // 5. decide
      }
      if (r.proceed() && models == models_target::none) {
        r = stages.route(  // 6. route
            ctx, [this](int c) { return w_.pool.cluster_available(c); },
            [this](int c) { return w_.pool.unavailable_reason(c); });
      }
      if (r.proceed()) {
        r = w_.shared.recorder->admit(ctx);  // the audit log can record what goes out
      }
      after = keep_alive(ctx) ? next_step::keep_alive : next_step::close;
    } else if (refused_by_head && !body_unread) {
      after = keep_alive(ctx) ? next_step::keep_alive : next_step::close;  // nothing left unread
    }
    if (r.proceed()) {
      after = co_await serve(ctx, models, model_id, after);  // 7. forward, 8. relay (or GET /v1/models)
    } else {
      after = co_await answer(ctx, r, after);
    }
    stages.account(ctx);  // its tokens, and the reservation admit made (every request)
    if (ctx.status != 0) {
      w_.shared.recorder->finish(ctx);  // 9. record
    }
    give_spare(ctx.body);  // often the read buffer's memory (read_fixed_body): the next one's
    co_return after;
  }

  // accept: what the connection tells about each of its requests.
  void accept_request(request_context& ctx) {
    ctx.started = clock::now();
    ctx.received_at = std::chrono::system_clock::now();
    ctx.request_id = make_request_id(w_.rng);
    ctx.peer_ip = peer_ip_;
    ctx.peer_port = peer_port_;
    ctx.client_ip = peer_ip_;  // until identify establishes it
    ctx.proxy_source_ip = proxy_source_ip_;
    if (client_certificate_.status != client_certificate::state::none) {
      ctx.client_cert = &client_certificate_;
    }
    ctx.key_memo = &key_memo_;
  }

  // read: the head, strictly framed (gateway/http_parser).
  asio::awaitable<stage_result> read_head(request_context& ctx) {
    take_spare(inbuf_);
    http::head_scanner scanner(cfg_.http, true);
    const clock::time_point deadline = clock::now() + cfg_.timeouts.request_header;
    while (true) {
      http::head_scanner::state st = scanner.scan(inbuf_);
      if (st == http::head_scanner::state::complete) {
        break;
      }
      if (st == http::head_scanner::state::error) {
        co_return framing_error(scanner.error());
      }
      auto left = std::chrono::duration_cast<milliseconds>(deadline - clock::now());
      if (left.count() <= 0) {
        co_return timed_out();
      }
      connection::read_result r;
      if (!client_->read_now(inbuf_, read_chunk, r)) {
        r = co_await client_->read_into_after_block(inbuf_, read_chunk, left);
      }
      if (r.status == io_status::timeout) {
        co_return timed_out();
      }
      if (r.status != io_status::ok) {
        co_return client_left();  // mid-head: nobody to answer
      }
    }
    std::string raw = inbuf_.substr(0, scanner.head_size());
    inbuf_.erase(0, scanner.head_size());
    if (http::parse_error e = http::parse_request_head(std::move(raw), cfg_.http, ctx.head);
        e != http::parse_error::none) {
      if (e == http::parse_error::body_too_large) {
        ctx.head_read = true;  // whole and sound: identify tells who sent it (handle_one)
        co_return body_too_large();
      }
      co_return framing_error(e);
    }
    ctx.head_read = true;
    co_return stage_result::next();
  }

  // 413, saying the limit (probe round 45: "exceeds the configured limit" left a client guessing).
  [[nodiscard]] stage_result body_too_large() const {
    return stage_result::respond(
        outcome_for(http::parse_error::body_too_large),
        fmt::format(
            "the request body is larger than this gateway accepts: at most {} bytes (limits.max_body_bytes)",
            cfg_.http.max_body_bytes));
  }

  // Whether a refused request's body is worth reading to keep its connection: a Content-Length
  // one no larger than discarded_body_limit that the client sends without waiting for a 100
  // Continue.
  [[nodiscard]] bool small_body_on_its_way(const request_context& ctx) const {
    return ctx.head.framing == http::body_framing::content_length &&
           ctx.head.content_length <= discarded_body_limit && !(ctx.head.expect_continue && inbuf_.empty());
  }

  // read: the body the head frames, if any (after identify: a refused request's is never read).
  asio::awaitable<stage_result> read_body(request_context& ctx) {
    if (ctx.head.framing == http::body_framing::none) {
      co_return stage_result::next();
    }
    if (ctx.head.expect_continue && inbuf_.empty()) {
      const io_status s =
          co_await client_->write("HTTP/1.1 100 Continue\r\n\r\n", {}, cfg_.timeouts.request_body);
      if (s != io_status::ok) {
        co_return client_left();
      }
    }
    stage_result body;
    if (ctx.head.framing == http::body_framing::content_length) {
      if (take_fixed_body(ctx)) {
        co_return stage_result::next();  // it came with the head: no coroutine for the rest
      }
      body = co_await read_fixed_body(ctx);
    } else {
      body = co_await read_chunked_body(ctx);
    }
    co_return body;
  }

  // Moves a Content-Length body from inbuf_ into ctx.body once all of it is there; false before.
  bool take_fixed_body(request_context& ctx) {
    const auto n = static_cast<std::size_t>(ctx.head.content_length);
    if (inbuf_.size() < n) {
      return false;
    }
    if (inbuf_.size() == n) {
      ctx.body.swap(inbuf_);
      inbuf_.clear();
    } else {
      ctx.body = inbuf_.substr(0, n);
      inbuf_.erase(0, n);
    }
    return true;
  }

  // How long the next body read may wait, `received` bytes after `started`: the gap between reads
  // (timeouts.request_body), and no longer than the whole body's budget allows, which is that gap
  // plus the time limits.min_body_rate takes for what has arrived. Zero: the body is too slow.
  [[nodiscard]] std::chrono::milliseconds body_wait(std::chrono::steady_clock::time_point started,
                                                    std::size_t received) const {
    const std::chrono::milliseconds gap = cfg_.timeouts.request_body;
    if (cfg_.http.min_body_rate == 0) {
      return gap;
    }
    const auto budget = gap + std::chrono::milliseconds(received * 1000 / cfg_.http.min_body_rate);
    const auto used =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    return used >= budget ? std::chrono::milliseconds(0) : std::min(gap, budget - used);
  }

  asio::awaitable<stage_result> read_fixed_body(request_context& ctx) {
    const auto n = static_cast<std::size_t>(ctx.head.content_length);
    const auto started = std::chrono::steady_clock::now();
    // A body cut short is recorded as far as it came, as a chunked one is (probe round 34: the
    // record said 0 bytes of a body 9 bytes of which had arrived).
    const auto partial = [&] {
      ctx.body.swap(inbuf_);
      inbuf_.clear();
    };
    while (!take_fixed_body(ctx)) {
      const std::chrono::milliseconds wait = body_wait(started, inbuf_.size());
      if (wait.count() == 0) {
        partial();
        co_return timed_out();
      }
      const connection::read_result r =
          co_await client_->read_into(inbuf_, std::min(read_chunk, n - inbuf_.size()), wait);
      if (r.status != io_status::ok) {
        partial();
        co_return body_unread(r.status);
      }
    }
    co_return stage_result::next();
  }

  asio::awaitable<stage_result> read_chunked_body(request_context& ctx) {
    http::chunk_decoder decoder(cfg_.http.max_body_bytes, true, cfg_.http.max_fields);
    const auto started = std::chrono::steady_clock::now();
    std::size_t received = inbuf_.size();
    while (true) {
      std::size_t consumed = 0;
      http::chunk_decoder::state st = decoder.feed(inbuf_, consumed, ctx.body);
      inbuf_.erase(0, consumed);
      if (st == http::chunk_decoder::state::done) {
        co_return stage_result::next();
      }
      if (st == http::chunk_decoder::state::error) {
        co_return decoder.error() == http::parse_error::body_too_large ? body_too_large()
                                                                       : framing_error(decoder.error());
      }
      const std::chrono::milliseconds wait = body_wait(started, received);
      if (wait.count() == 0) {
        co_return timed_out();
      }
      const std::size_t before = inbuf_.size();
      const connection::read_result r = co_await client_->read_into(inbuf_, read_chunk, wait);
      if (r.status != io_status::ok) {
        co_return body_unread(r.status);
      }
      received += inbuf_.size() - before;
    }
  }

  // A body read that failed (`s` is not ok): what the client is answered, if it is still there.
  static stage_result body_unread(io_status s) {
    return s == io_status::timeout ? timed_out() : client_left();
  }

  // A request that passed its stages: the model list is the gateway's to answer, the rest goes to
  // the chosen cluster.
  // Not a coroutine: it hands over the one that serves (one coroutine frame less per request).
  asio::awaitable<next_step> serve(request_context& ctx, models_target models, std::string_view model_id,
                                   next_step after) {
    if (models != models_target::none) {
      return answer_models(ctx, models, model_id, after);
    }
    return forward_and_relay(ctx);
  }

  // forward, then relay: the request to the chosen cluster, its answer back to the client.
  asio::awaitable<next_step> forward_and_relay(request_context& ctx) {
    upstream_exchange exchange(w_, ctx, client_);
    stage_result r = co_await exchange.forward();
    relay_result relayed;
    if (r.proceed()) {
      relayed = co_await relay(ctx, exchange, *client_, *w_.shared.recorder, cfg_.timeouts.stream_idle,
                               keep_alive(ctx));
    }
    if (exchange.release(relayed.upstream_reusable)) {
      co_return next_step::close;  // the client went away
    }
    if (!r.proceed()) {
      const next_step after =
          co_await answer(ctx, r, keep_alive(ctx) ? next_step::keep_alive : next_step::close);
      co_return after;
    }
    if (!relayed.unanswered_message.empty()) {
      // The answer failed before any byte reached the client: the gateway's 502 instead.
      const stage_result failed = stage_result::respond(ctx.result, std::move(relayed.unanswered_message));
      const next_step after = co_await answer(ctx, failed, next_step::close);
      co_return after;
    }
    co_return relayed.step;
  }

  [[nodiscard]] bool keep_alive(const request_context& ctx) const {
    return ctx.head.keep_alive && !w_.shared.draining.load(std::memory_order_relaxed);
  }

  // GET /v1/models[/{id}], /api/tags: the gateway's own answer (gateway/models_endpoint.hpp), recorded like
  // any request.
  asio::awaitable<next_step> answer_models(request_context& ctx, models_target target, std::string_view id,
                                           next_step after) {
    const pipeline& stages = *w_.shared.stages;
    const bool close = after != next_step::keep_alive;
    // The answer is the policy's (what it permits this client): the record says under which version.
    ctx.policy_version = stages.policy_version();
    ctx.permitted = true;
    ctx.decision_reason = "the models the policy permits this client, answered by the gateway";
    // Every value a co_await uses is a named local (GCC 12 destroys co_await temporaries twice).
    // A client the policy permits no model (a sanctioned origin; a country no permit covers), or a
    // model it does not permit, is denied as a request for one would be (403, the rules named, the
    // record a denial): an empty list recorded as permitted would tell an auditor otherwise.
    response resp;
    std::optional<stage_result> denied;
    if (target != models_target::one) {
      const std::vector<permitted_model> listed = stages.models(ctx);
      denied = listed.empty() ? stages.model_denied(ctx, {}) : std::nullopt;
      resp =
          json_response(target == models_target::list ? models_list_json(listed) : ollama_tags_json(listed),
                        ctx.request_id, close);
    } else if (std::optional<permitted_model> m = stages.model(ctx, id)) {
      ctx.model = m->id;
      resp = json_response(model_json(*m), ctx.request_id, close);
    } else {
      ctx.model = std::string(id);
      denied = stages.model_denied(ctx, id);
      if (!denied) {
        ctx.model.clear();
        denied =
            stage_result::respond(outcome::model_not_found,
                                  fmt::format("the model '{}' does not exist or is not allowed for you", id));
      }
    }
    if (denied) {
      const next_step refused = co_await answer(ctx, *denied, after);
      co_return refused;
    }
    const next_step written = co_await write_own(ctx, resp, after);
    co_return written;
  }

  // Writes a successful answer of the gateway's own after its audit record, as answer() does for
  // errors (it carries nothing of a cluster's, so it goes out even if the record failed).
  asio::awaitable<next_step> write_own(request_context& ctx, response& resp, next_step after) {
    add_receipt(ctx, resp);
    ctx.status = resp.status;
    const bool head_only = ctx.head.method == "HEAD";
    ctx.response_bytes = head_only ? 0 : resp.body.size();
    const bool durable = co_await w_.shared.recorder->make_durable(ctx);
    (void)durable;
    const io_status s = co_await client_->write(resp.head, head_only ? std::string_view() : resp.body,
                                                cfg_.timeouts.stream_idle);
    co_return s == io_status::ok ? after : next_step::close;
  }

  // Every answer of the gateway's own carries a signed receipt too (when signing is on), as relayed
  // ones do: an error, a denial, and the model list.
  void add_receipt(const request_context& ctx, response& resp) const {
    resp.head.resize(resp.head.size() - 2);  // the receipt goes before the head's final CRLF
    w_.shared.tagger->append_receipt(resp.head, ctx, resp.status);
    resp.head += "\r\n";
  }

  // The gateway's own answer for a stage's outcome: an OpenAI-style JSON error, after which the
  // connection does `after`. An outcome without a status (the client left) writes nothing.
  asio::awaitable<next_step> answer(request_context& ctx, const stage_result& r, next_step after) {
    ctx.result = r.result;
    if (w_.cutting && r.result == outcome::client_disconnected) {
      ctx.result = outcome::shutdown_cut;  // the gateway cancelled the connection, not the client
    }
    if (ctx.result == outcome::shutdown_cut) {
      // Cut at the drain deadline: the client is sent nothing more; recorded with 503 when it had
      // no answer yet, else with the status it had.
      if (ctx.status == 0 && !ctx.head.method.empty()) {
        ctx.status = 503;
      }
      co_return next_step::close;
    }
    if (info(r.result).status == 0) {
      // A client that left after its head (before sending all of its body) made a request: it is
      // recorded, with nginx's 499 as forward() does when it leaves before the answer.
      if (r.result == outcome::client_disconnected && !ctx.head.method.empty()) {
        ctx.status = 499;
      }
      co_return next_step::close;
    }
    response resp = error_response(r.result, r.message, ctx.request_id, after != next_step::keep_alive,
                                   ctx.retry_after_s);
    add_receipt(ctx, resp);
    ctx.status = resp.status;
    const bool head_only = ctx.head.method == "HEAD";
    ctx.response_bytes = head_only ? 0 : resp.body.size();
    // An error answer carries nothing of a cluster's, so it goes out even if the record failed.
    (void)co_await w_.shared.recorder->make_durable(ctx);
    const io_status s = co_await client_->write(resp.head, head_only ? std::string_view() : resp.body,
                                                cfg_.timeouts.stream_idle);
    co_return s == io_status::ok ? after : next_step::close;
  }

  worker& w_;
  const config& cfg_;
  std::shared_ptr<connection> client_;
  std::string peer_ip_;
  std::uint16_t peer_port_;
  std::string proxy_source_ip_;
  client_certificate client_certificate_;
  tenants::key_memo key_memo_;  // the connection's last valid API key (identify)
  std::string inbuf_;
  connection_count_guard counted_{*w_.shared.stats};  // the connection is active while the session lives
};

struct proxy_read {
  bool ok = false;
  std::string source_ip;  // empty for a LOCAL header
};

// Reads a trusted front proxy's PROXY v2 header, byte-exactly: the TLS handshake follows it on the
// same socket. Bounded by the handshake timeout.
asio::awaitable<proxy_read> read_proxy_header(tcp::socket& socket, milliseconds timeout) {
  constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
  asio::steady_timer deadline(socket.get_executor(), timeout);
  deadline.async_wait([&socket](const boost::system::error_code& ec) {
    if (!ec) {
      boost::system::error_code ignored;
      socket.cancel(ignored);
    }
  });
  std::string header(http::proxy_v2_fixed_size, '\0');
  auto [ec, n] = co_await asio::async_read(socket, asio::buffer(header), nothrow);
  proxy_read out;
  http::proxy_prefix prefix{http::proxy_error::bad_signature, 0};
  if (!ec) {
    prefix = http::parse_proxy_v2_prefix(header);
  }
  if (!ec && prefix.error == http::proxy_error::none) {
    header.resize(prefix.total_size);
    auto [ec2, n2] = co_await asio::async_read(socket,
                                               asio::buffer(header.data() + http::proxy_v2_fixed_size,
                                                            prefix.total_size - http::proxy_v2_fixed_size),
                                               nothrow);
    ec = ec2;
  }
  deadline.cancel();
  http::proxy_header parsed;
  const http::proxy_error e = ec ? http::proxy_error::bad_signature : http::parse_proxy_v2(header, parsed);
  if (e != http::proxy_error::none) {
    log_line("warn", "PROXY protocol header refused")
        .str("error", ec ? std::string_view(ec.message()) : http::describe(e))
        .emit();
    co_return out;
  }
  out.ok = true;
  out.source_ip = parsed.local ? std::string(proxy_local_source) : parsed.source_address;
  co_return out;
}

bool peer_is_trusted(const tcp::endpoint& peer, const config& cfg) {
  const std::optional<policy::ip_address> ip = policy::parse_ip(peer.address().to_string());
  for (const policy::cidr_block& b : cfg.trusted_proxies) {
    if (ip && b.contains(*ip)) {
      return true;
    }
  }
  return false;
}

}  // namespace

asio::awaitable<void> serve_connection(worker& w, tcp::socket socket) {
  metrics& stats = *w.shared.stats;
  stats.connections_total.fetch_add(1, std::memory_order_relaxed);
  connection_count_guard guard(stats);  // for the handshake; the session counts itself afterwards
  const config& cfg = *w.shared.cfg;
  boost::system::error_code ec;
  tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) {
    co_return;
  }
  std::string proxy_source_ip;
  if (cfg.listen_proxy_protocol && peer_is_trusted(peer, cfg)) {
    const proxy_read proxied = co_await read_proxy_header(socket, cfg.timeouts.handshake);
    if (!proxied.ok) {
      stats.proxy_protocol_errors.fetch_add(1, std::memory_order_relaxed);
      co_return;  // the socket closes: nothing of the client is trusted without the header
    }
    proxy_source_ip = proxied.source_ip;
  }
  std::shared_ptr<SSL_CTX> tls = w.shared.server_tls.load();
  ssl_ptr ssl(SSL_new(tls.get()));
  if (!ssl) {
    co_return;
  }
  SSL_set_accept_state(ssl.get());
  auto client = std::make_shared<connection>(std::move(socket), std::move(ssl));
  std::string detail;
  const io_status handshake = co_await client->handshake(cfg.timeouts.handshake, detail);
  if (handshake != io_status::ok) {
    stats.tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
    if (client->plain_http_at_handshake()) {
      stats.plain_http_connections.fetch_add(1, std::memory_order_relaxed);
      client->answer_plain_http();                 // as nginx does, rather than a silent close
      co_await client->linger_close(linger_time);  // the client reads it before its unread bytes reset
      co_return;
    }
    client->close();
    co_return;
  }
  std::make_shared<session>(w, std::move(client), peer, std::move(proxy_source_ip))->start();
}

}  // namespace sovgw::gateway
