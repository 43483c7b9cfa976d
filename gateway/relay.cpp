#include "gateway/relay.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <optional>
#include <string>

#include "common/ascii.hpp"
#include "gateway/buffer_pool.hpp"
#include "gateway/geo_tags.hpp"
#include "gateway/log.hpp"
#include "gateway/responses.hpp"
#include "gateway/secret_mask.hpp"
#include "gateway/usage_meter.hpp"

// GCC 12 miscompiles some coroutines that use a co_await result inside a condition or a co_return
// (a SIGILL on resume was seen here). In the gateway's coroutines, a co_await result is always
// first bound to a named local.

namespace sovgw::gateway {

namespace {

constexpr std::size_t read_chunk = 16 * 1024;
constexpr std::size_t max_completion = 1024 * 1024;  // the audit payload keeps the first MiB

// A cluster's own Sovereign-* and signature fields never reach the client: the receipt there is the
// gateway's (gateway/geo_tags.hpp), and a cluster must not be able to write one.
bool receipt_field(http::field_id id) {
  using enum http::field_id;
  return id == signature || id == signature_input || id == sovereign_data_class || id == sovereign_other;
}

// A name that a CGI, WSGI or Rack client, or a server's environment, reads as one of those (or as
// X-Request-Id) but spelled with another separator: `Sovereign_Cluster`, `Signature_Input` (CGI
// reads `_` as `-`), `Sovereign.Decision` (Apache's http2env maps every character but letters and
// digits to `_`, so `.` or `~` too; probe round 39). Dropped like them.
bool other_spelling_of_ours(std::string_view name) {
  const auto alnum = [](char c) {
    return (c >= '0' && c <= '9') || (ascii_lower(c) >= 'a' && ascii_lower(c) <= 'z');
  };
  if (std::all_of(name.begin(), name.end(), [&](char c) { return c == '-' || alnum(c); })) {
    return false;  // the names themselves are the field ids' (receipt_field, x_request_id)
  }
  std::string normal(name);
  for (char& c : normal) {
    c = alnum(c) ? ascii_lower(c) : '-';
  }
  return normal.starts_with("sovereign-") || normal == "signature" || normal == "signature-input" ||
         normal == "x-request-id";
}

// Fields of a cluster's answer that would send the client, or its next requests, elsewhere than the
// gateway, or set state on the gateway's origin for it: cookies (the gateway never forwards a
// client's Cookie anyway), alternative services (Alt-Svc may name another host), HSTS, Refresh,
// Link (preconnect, preload), Content-Location, browsers' report endpoints, and CORS (which
// origins may read the gateway's answers is the gateway's business, not a cluster's). And the
// cluster's own authentication: a challenge (WWW-Authenticate) or credentials in an answer are
// between the gateway and the cluster, whose credential is the gateway's (probe round 23: an
// `Authorization: Bearer ...` named like it reached the client).
bool points_client_elsewhere(std::string_view name) {
  static constexpr std::string_view names[] = {
      "set-cookie", "set-cookie2", "alt-svc", "alt-used", "strict-transport-security", "refresh", "link",
      "content-location", "nel", "report-to", "reporting-endpoints", "clear-site-data",
      "service-worker-allowed", "expect-ct", "speculation-rules", "set-login",
      // what a front proxy or CDN before the gateway acts on: serve a file of its own
      // (X-Accel-Redirect, X-Sendfile), or cache one tenant's answer for others
      "x-sendfile", "x-lighttpd-send-file", "x-reproxy-url", "surrogate-control", "edge-control",
      // what a browser grants the gateway's origin (probe round 34): which origins may time it,
      // embed or read its answers, which features and client hints it uses, its content policy
      "timing-allow-origin", "cross-origin-resource-policy", "cross-origin-opener-policy",
      "cross-origin-embedder-policy", "content-security-policy", "content-security-policy-report-only",
      "permissions-policy", "feature-policy", "origin-trial", "accept-ch", "critical-ch",
      // the cluster's authentication
      "www-authenticate", "proxy-authenticate", "authentication-info", "proxy-authentication-info",
      "authorization", "proxy-authorization",
      // the addresses of the cluster's own network (request fields, meaningless in an answer)
      "x-real-ip", "forwarded"};
  // Inline comparisons (most fail on the length at once): this runs for every field of every answer.
  const auto starts = [&](std::string_view prefix) {
    return name.size() > prefix.size() && ascii_iequals(name.substr(0, prefix.size()), prefix);
  };
  return std::any_of(std::begin(names), std::end(names),
                     [&](std::string_view n) { return ascii_iequals(name, n); }) ||
         starts("access-control-") || starts("x-accel-") || starts("x-forwarded-") || starts("x-sendfile-") ||
         // any cache's own cache control (RFC 9213's CDN-Cache-Control, Cloudflare-CDN-Cache-Control,
         // Akamai-Cache-Control and the like)
         (name.size() > 14 && ascii_iequals(name.substr(name.size() - 14), "-cache-control"));
}

// Fields of a cluster's answer that name its software, its hosts or the proxies between the gateway
// and its model servers ("vLLM/0.6 on 10.0.0.7", "Via: 1.1 internal-lb",
// "X-Backend-Host: gpu-node-17.internal:8000"): the client talks to the gateway, which as a portal
// through the cluster's firewall does not pass on the names of hosts behind it (RFC 9110 7.6.3;
// nginx drops an upstream's Server too). Server, X-Powered-By and ASP.NET's version fields; Via;
// Envoy's, Kong's and LiteLLM's own fields (X-Envoy-Upstream-Service-Time, X-Kong-Upstream-Latency,
// X-LiteLLM-Model-Api-Base, which is the model server's URL); X-Backend-*, X-Upstream-* (the
// gateway writes its own X-Upstream-Request-Id after this) and X-Served-By; and any field named
// for a host or an address (X-Node-Hostname, X-Server-IP, X-Upstream-Addr). Probe round 32.
bool names_cluster_network(std::string_view name) {
  static constexpr std::string_view names[] =
      {
          "server",    "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version",
          "via",       "x-served-by",  "x-server",         "x-host",
          "x-backend", "x-hostname",   "server-timing"};  // backends' node names and timings (probe round 34)
  static constexpr std::string_view prefixes[] = {"x-envoy-", "x-kong-", "x-litellm-", "x-backend-",
                                                  "x-upstream-"};
  static constexpr std::string_view suffixes[] = {"-host", "-hostname", "-ip", "-addr"};
  return std::any_of(std::begin(names), std::end(names),
                     [&](std::string_view n) { return ascii_iequals(name, n); }) ||
         std::any_of(std::begin(prefixes), std::end(prefixes),
                     [&](std::string_view p) {
                       return name.size() > p.size() && ascii_iequals(name.substr(0, p.size()), p);
                     }) ||
         std::any_of(std::begin(suffixes), std::end(suffixes), [&](std::string_view x) {
           return name.size() > x.size() && ascii_iequals(name.substr(name.size() - x.size()), x);
         });
}

// The Location a client may follow: one on the gateway, where the request is decided again. A
// path or a relative reference stays; an http(s) URL, or a network-path reference (//host/...),
// becomes its path and query on the gateway, whatever host it names (a cluster names itself by its
// own address, which the client must not reach around the gateway); another scheme is dropped
// (nullopt). Read as browsers and fetch() read it: tabs and line breaks ignored, `\` as `/`.
std::optional<std::string> location_on_gateway(std::string_view value) {
  std::string s;
  s.reserve(value.size() + 1);
  for (const char c : value) {
    if (c != '\t' && c != '\r' && c != '\n') {
      s += c == '\\' ? '/' : c;
    }
  }
  std::size_t at = 0;  // where the part after the scheme starts
  const auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!s.empty() && alpha(s[0])) {
    std::size_t j = 1;
    while (j < s.size() &&
           (alpha(s[j]) || (s[j] >= '0' && s[j] <= '9') || s[j] == '+' || s[j] == '-' || s[j] == '.')) {
      ++j;
    }
    if (j < s.size() && s[j] == ':') {
      const std::string_view scheme(s.data(), j);
      if (!http::iequals(scheme, "http") && !http::iequals(scheme, "https")) {
        return std::nullopt;
      }
      at = j + 1;
    }
  }
  std::string rest;
  if (s.compare(at, 2, "//") == 0) {
    const std::size_t end = s.find_first_of("/?#", at + 2);
    rest = end == std::string::npos ? "/" : s.substr(end);
  } else {
    rest = s.substr(at);
  }
  if (at > 0 && (rest.empty() || rest.front() != '/')) {
    rest.insert(rest.begin(), '/');  // http:x is x on the host the client asked
  }
  while (rest.size() > 1 && rest[0] == '/' && rest[1] == '/') {
    rest.erase(0, 1);  // never a network path again
  }
  return rest;
}

// Appends the client's response head to `out`.
void client_response_head(std::string& out, const request_context& ctx, const http::message_head& up,
                          bool chunked, bool close, bool reframed, bool body_changed,
                          const geo_tagger& tagger, const cluster_credential* credential) {
  // The cluster's credential, as the gateway sends it: a field of that name, or a value holding its
  // secret in a form an echo writes it (secret_mask.hpp), never reaches the client (probe round 24:
  // a cluster echoing its key in its own auth header field, or in X-Debug; round 46: upper-cased or
  // base64-encoded).
  std::string_view credential_name;
  if (credential != nullptr) {
    credential_name = std::string_view(credential->line).substr(0, credential->line.find(':'));
  }
  out.reserve(out.size() + up.raw.size() + (tagger.signing() ? 1024 : 512));  // receipt, signature
  out += "HTTP/1.1 ";
  append_number(out, static_cast<std::uint64_t>(up.status));
  out += ' ';
  // The gateway's own reason phrase, never the cluster's: its text is the cluster's to choose (a
  // credential it was sent echoed back, "denied by policy" beside a signed permit; probe round 30).
  out += reason_phrase(up.status);
  out += "\r\n";
  bool upstream_id_sent = false;
  std::string folded;
  for (const http::field& f : up.fields) {
    // As a server before the gateway may read it: nginx (underscores_in_headers), CGI and WSGI
    // take '_' for '-' (probe round 49: Cache_Control: public passed).
    std::string_view name = f.name;
    if (name.find('_') != std::string_view::npos) {
      folded.assign(name);
      std::replace(folded.begin(), folded.end(), '_', '-');
      name = folded;
    }
    if (http::is_hop_by_hop(up, f) || receipt_field(f.id) || other_spelling_of_ours(f.name) ||
        (f.id == http::field_id::content_length &&
         (up.framing != http::body_framing::none || up.status < 200 || up.status == 204)) ||
        points_client_elsewhere(name) ||
        (!credential_name.empty() && ascii_iequals(f.name, credential_name)) ||
        (credential != nullptr &&
         (credential->secret.found_in(f.value) || credential->secret.found_in(f.name))) ||
        // the digest of a body the gateway changes (a usage event removed) would be wrong
        (body_changed && (ascii_iequals(f.name, "content-digest") || ascii_iequals(f.name, "repr-digest") ||
                          ascii_iequals(f.name, "digest") || ascii_iequals(f.name, "content-md5")))) {
      continue;
    }
    // An answer a shared cache may keep for a request with credentials (RFC 9111 section 3.5:
    // public, s-maxage, must-revalidate) would let a cache before the gateway serve one tenant's
    // answer to another: the cluster's caching directives go only without them (probe round 49:
    // must-revalidate passed).
    if (ascii_iequals(name, "cache-control")) {
      const std::string directives = ascii_lowered(f.value);
      if (directives.find("public") != std::string::npos ||
          directives.find("s-maxage") != std::string::npos ||
          directives.find("must-revalidate") != std::string::npos) {
        continue;
      }
    }
    // The cluster's software, hosts and proxies (names_cluster_network). Its request id is kept
    // under another name for the cluster operator's support: X-Request-Id is the gateway's, the
    // one the audit log knows. The cluster's first X-Request-Id only: a client must be able to
    // tell which is the cluster's, and never sees one it wrote itself under the gateway's name
    // (probe round 30).
    if (names_cluster_network(f.name)) {
      continue;
    }
    // The account the gateway calls the cluster with, shared by every client: its IDs, and rate
    // limits that count what every tenant used (x-ratelimit-remaining-tokens falls by the others'
    // tokens between two of a tenant's requests; probe round 42). Retry-After stays.
    if (http::names_upstream_account(f.name)) {
      continue;
    }
    if (f.id == http::field_id::x_request_id) {
      if (!upstream_id_sent) {
        append_field(out, "X-Upstream-Request-Id", f.value);
        upstream_id_sent = true;
      }
      continue;
    }
    if (ascii_iequals(f.name, "location")) {
      // Checked as the client gets it too: the rewrite removes tabs and turns '\\' into '/', which
      // can spell the credential that the value as sent did not (probe round 47).
      if (const std::optional<std::string> on_gateway = location_on_gateway(f.value);
          on_gateway && (credential == nullptr || !credential->secret.found_in(*on_gateway))) {
        append_field(out, f.name, *on_gateway);
      }
      continue;
    }
    append_field(out, f.name, f.value);
  }
  append_field(out, "X-Request-Id", ctx.request_id);
  tagger.append_receipt(out, ctx, up.status);
  if (up.framing == http::body_framing::content_length && !reframed) {
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
}

// The media type (without parameters) of each Content-Type field, in order, to `visit` until it
// returns true; true if one did.
bool any_media_type(const http::message_head& up, const auto& visit) {
  for (const http::field& f : up.fields) {
    if (f.id == http::field_id::content_type &&
        visit(std::string_view(f.value).substr(0, f.value.find(';')))) {
      return true;
    }
  }
  return false;
}

// One relay: the state the per-framing loops share.
class relay_run {
 public:
  relay_run(request_context& ctx, upstream_exchange& ex, connection& client, const request_recorder& recorder,
            milliseconds idle, bool keep_alive)
      : ctx_(ctx), ex_(ex), client_(client), recorder_(recorder), idle_(idle) {
    const http::message_head& up = ex.response_head();
    const bool client_http10 = ctx.head.version_minor == 0;
    const bool streamed =
        up.framing == http::body_framing::chunked || up.framing == http::body_framing::until_close;
    const bool events =
        any_media_type(up, [](std::string_view type) { return http::iequals(type, "text/event-stream"); });
    meter_ = usage_meter_for(ctx.head, up, ctx.usage_requested);
    // The usage the gateway asked for is taken out of the events: the body is not the cluster's.
    const bool body_changed = meter_.may_change_body();
    // An event stream the cluster sent with a Content-Length (or an answer that may turn out to be
    // one: usage_meter::mode::sniff), holding the usage the gateway asked for: its length changes
    // once that is taken out, so the client gets it chunked (or, HTTP/1.0, until close) instead.
    const bool reframed = body_changed && up.framing == http::body_framing::content_length;
    chunked_ = (streamed || reframed) && !client_http10;
    const bool close = !keep_alive || ((streamed || reframed) && client_http10);
    after_ = close ? next_step::close : next_step::keep_alive;
    capture_ = recorder.captures_completion(ctx);
    // An event stream's next event is seldom there when the last one has just been relayed.
    paced_ = streamed && events;
    ctx.status = up.status;
    client_response_head(*out_, ctx, up, chunked_, close, reframed, body_changed, ex.tagger(),
                         ex.credential());
    // And in its body, byte for byte: a Content-Length answer keeps its length.
    if (ex.credential() != nullptr) {
      mask_ = secret_mask(&ex.credential()->secret);
    }
  }

  // The request's tokens: the cluster's usage, or an estimate when the answer ended without it
  // (cut short by either side, or a cluster that reports none): an answer is never charged nothing.
  void settle_usage() {
    if (!meter_.active() || ctx_.usage_known || ctx_.usage_estimated) {
      return;
    }
    // Whether the answer generates text matters only when the cluster gave no completion count.
    const bool reported = meter_.known(true);
    const bool generates = !reported && answers_with_text(ctx_.head);
    ctx_.usage_known = reported || (meter_.known(false) && !generates);
    if (!ctx_.usage_known) {
      meter_.estimate(ctx_.body.size(), generates);
      ctx_.usage_estimated = true;
      ctx_.prompt_reported = meter_.prompt_reported();
      ctx_.completion_reported = meter_.completion_reported();
    }
    ctx_.prompt_tokens = meter_.prompt_tokens();
    ctx_.completion_tokens = meter_.completion_tokens();
    // A Responses API answer without usage is a background response (`queued`, `in_progress`: a
    // completed one carries its usage), generated after this answer: its size says nothing of it.
    // It is charged what admission reserved (its bound), once; reading it back later charges
    // nothing (pipeline::account). Probe round 37: 29 tokens from the size of a `queued` object.
    // So are an Assistants run (a `queued` run object; its prompt the stored thread, bound by its
    // max_prompt_tokens), a video's generation and images, whose bytes are no count of tokens (probe
    // round 40: a run reserved and was charged nothing past its body's size, n=10 images one's).
    // A background response's stream the client left (or that ended without its usage) goes on
    // generating at the cluster: charged as reserved too (probe round 50: ~21 tokens for 55,000).
    if (ctx_.usage_estimated && !ctx_.completion_reported && (!ctx_.stream || ctx_.background) &&
        charged_as_reserved(ctx_.head)) {
      if (!ctx_.prompt_reported) {
        ctx_.prompt_tokens = std::max(ctx_.prompt_tokens, ctx_.prompt_bound);
      }
      ctx_.completion_tokens = std::max(ctx_.completion_tokens, ctx_.completion_reserved(ctx_.prompt_tokens));
    }
    // A completion above the request's bound (max_tokens and the like, times its choices, as the
    // gateway read them) is charged as the cluster reports it, since the cluster ran it: a server
    // may read a bound the gateway does not (llama.cpp's n_predict: -1, a decoy among nested
    // settings), and charging the gateway's reading would make such requests cheap (probe round
    // 24). The operator is told: a cluster that reports more than it could have generated is lying,
    // or reads the request differently from the gateway.
    // An estimate, though, is the gateway's own guess from the bytes relayed (an NDJSON stream's
    // lines are a hundred bytes a token): no more than the bound the cluster was asked to honour,
    // and nothing to blame the cluster for (probe round 26).
    if (ctx_.usage_estimated && ctx_.completion_bound != 0) {
      ctx_.completion_tokens = std::min(ctx_.completion_tokens, ctx_.completion_bound);
    }
    // A count no model's context holds (2^24 tokens, above the largest of ten million): charged as
    // reported all the same (the operator decides what to make of the cluster), but said, whether or
    // not the request had a bound (probe round 39: 2^40 prompt tokens for a 66-byte prompt emptied
    // a tenant's month without a word in the log).
    constexpr std::uint64_t implausible = std::uint64_t{1} << 24;
    if (!ctx_.usage_estimated && (ctx_.prompt_tokens > implausible || ctx_.completion_tokens > implausible)) {
      log_line("warn", "the cluster reported more tokens than any model's context holds")
          .str("request_id", ctx_.request_id)
          .str("cluster", ex_.cluster_name())
          .num("prompt_tokens", static_cast<std::int64_t>(ctx_.prompt_tokens))
          .num("completion_tokens", static_cast<std::int64_t>(ctx_.completion_tokens))
          .num("request_bytes", static_cast<std::int64_t>(ctx_.body.size()))
          .emit();
    }
    if (!ctx_.usage_estimated && ctx_.completion_bound != 0 &&
        ctx_.completion_tokens > ctx_.completion_bound) {
      log_line("warn",
               "the cluster reported more completion tokens than the request's bound as the gateway read it")
          .str("request_id", ctx_.request_id)
          .str("cluster", ex_.cluster_name())
          .num("reported", static_cast<std::int64_t>(ctx_.completion_tokens))
          .num("bound", static_cast<std::int64_t>(ctx_.completion_bound))
          .emit();
    }
  }

  // Not a coroutine: it hands over the framing's own (one coroutine frame less per request).
  asio::awaitable<relay_result> run() {
    const http::body_framing framing = ex_.response_head().framing;
    if (framing == http::body_framing::none) {
      return no_body();
    }
    if (framing == http::body_framing::content_length) {
      return content_length();
    }
    if (framing == http::body_framing::chunked) {
      return chunked();
    }
    return until_close();
  }

 private:
  asio::awaitable<relay_result> no_body() {
    // What the answer is charged (an estimate: a 204 reports no usage) is in the record made
    // durable here, as in every other framing's (probe round 39: the record of a 204 said 0 tokens
    // while the budget and the counters were charged the estimate).
    end_usage();
    bool durable = recorder_.durable_already(ctx_);
    if (!durable) {
      durable = co_await recorder_.make_durable(ctx_);
    }
    if (!durable) {
      co_return relay_result{};
    }
    bool written;
    if (!write_now(written)) {
      written = co_await write_rest();
    }
    co_return written ? done() : relay_result{};
  }

  asio::awaitable<relay_result> content_length() {
    std::string& upbuf = ex_.buffered();
    std::uint64_t remaining = ex_.response_head().content_length;
    while (true) {
      const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, upbuf.size()));
      body(std::string_view(upbuf).substr(0, take));
      upbuf.erase(0, take);
      remaining -= take;
      if (remaining == 0) {
        end_usage();
        bool durable = recorder_.durable_already(ctx_);
        if (!durable) {
          durable = co_await recorder_.make_durable(ctx_);
        }
        if (!durable) {
          co_return relay_result{};  // the client sees a truncated body
        }
        if (chunked_) {
          *out_ += "0\r\n\r\n";  // re-framed (the constructor)
        }
      }
      bool written;
      if (!write_now(written)) {
        written = co_await write_rest();
      }
      if (!written) {
        co_return relay_result{};
      }
      if (remaining == 0) {
        co_return done();
      }
      const auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(read_chunk, remaining));
      connection::read_result r;
      if (!ex_.upstream().read_now(upbuf, chunk, r)) {
        r = co_await ex_.upstream().read_into_after_block(upbuf, chunk, idle_);
      }
      if (r.status != io_status::ok) {
        co_return mid_body_failure(r.status);
      }
    }
  }

  asio::awaitable<relay_result> chunked() {
    http::chunk_decoder decoder(UINT64_MAX);
    std::string& upbuf = ex_.buffered();
    std::string decoded;
    while (true) {
      decoded.clear();
      std::size_t consumed = 0;
      const http::chunk_decoder::state st = decoder.feed(upbuf, consumed, decoded);
      upbuf.erase(0, consumed);
      if (st == http::chunk_decoder::state::error) {
        ex_.failed_mid_body(outcome::upstream_bad_chunking, io_status::error);
        co_return unanswered_or_cut("malformed chunked framing in its answer");
      }
      body(decoded);
      if (st == http::chunk_decoder::state::done) {
        const bool ended = co_await end_stream();
        co_return ended ? done() : relay_result{};
      }
      bool written;
      if (!write_now(written)) {
        written = co_await write_rest();
      }
      if (!written) {
        co_return relay_result{};
      }
      connection::read_result r;
      if (paced_) {
        r = co_await ex_.upstream().read_into_paced(upbuf, read_chunk, idle_);
      } else if (!ex_.upstream().read_now(upbuf, read_chunk, r)) {
        r = co_await ex_.upstream().read_into_after_block(upbuf, read_chunk, idle_);
      }
      if (r.status != io_status::ok) {
        co_return mid_body_failure(r.status);
      }
    }
  }

  // An HTTP/1.0-style body that ends when the cluster closes its connection.
  asio::awaitable<relay_result> until_close() {
    std::string& upbuf = ex_.buffered();
    while (true) {
      body(upbuf);
      upbuf.clear();
      bool written;
      if (!write_now(written)) {
        written = co_await write_rest();
      }
      if (!written) {
        co_return relay_result{};
      }
      connection::read_result r;
      if (paced_) {
        r = co_await ex_.upstream().read_into_paced(upbuf, read_chunk, idle_);
      } else if (!ex_.upstream().read_now(upbuf, read_chunk, r)) {
        r = co_await ex_.upstream().read_into_after_block(upbuf, read_chunk, idle_);
      }
      // Only a clean close ends such a body: a reset cuts it short (upstream_reset_mid_body).
      if (r.status == io_status::eof && !ex_.upstream().ended_by_reset()) {
        const bool ended = co_await end_stream();
        co_return ended ? relay_result{after_, false, {}} : relay_result{};
      }
      if (r.status != io_status::ok) {
        co_return mid_body_failure(r.status);
      }
    }
  }

  // The end of a streamed body: durable record first, then the terminating chunk.
  asio::awaitable<bool> end_stream() {
    end_usage();
    bool durable = recorder_.durable_already(ctx_);
    if (!durable) {
      durable = co_await recorder_.make_durable(ctx_);
    }
    if (!durable) {
      co_return false;
    }
    if (chunked_) {
      *out_ += "0\r\n\r\n";
    }
    bool written;
    if (!write_now(written)) {
      written = co_await write_rest();
    }
    co_return written;
  }

  // Body bytes from the cluster: the cluster's credential masked (which may hold back the start of
  // one), read for usage (which may hold back part of an event), then sent.
  void body(std::string_view data) {
    if (mask_.active()) {
      masked_.clear();
      mask_.feed(data, masked_);
      data = masked_;
    }
    if (meter_.passes_through()) {
      meter_.observe(data);
      emit(data);
      return;
    }
    metered_.clear();
    meter_.feed(data, metered_);
    emit(metered_);
  }

  // The body's end: what the mask and the meter held back goes out, and the usage it read is the
  // request's.
  void end_usage() {
    if (mask_.active()) {
      std::string held;
      mask_.finish(held);
      mask_ = secret_mask();
      body(held);
    }
    if (!meter_.active()) {
      return;
    }
    metered_.clear();
    meter_.finish(metered_);
    emit(metered_);
    settle_usage();
  }

  // Body bytes for the client: counted, kept for the audit payload when it keeps them, and framed.
  void emit(std::string_view data) {
    ctx_.response_bytes += data.size();
    if (capture_ && ctx_.completion.size() < max_completion) {
      ctx_.completion.append(data.substr(0, max_completion - ctx_.completion.size()));
    }
    if (data.empty()) {
      return;
    }
    if (chunked_) {
      fmt::format_to(std::back_inserter(*out_), "{:x}\r\n", data.size());
    }
    *out_ += data;
    if (chunked_) {
      *out_ += "\r\n";
    }
  }

  // Writes what is pending, the one write-or-fail of every framing: `written` is false (with the
  // outcome set) if the client could not take it. write_now does it without waiting and returns
  // true when done; false when the client's socket is full: then co_await write_rest().
  bool write_now(bool& written) {
    if (out_->empty()) {
      written = true;
      return true;
    }
    unwritten_ = *out_;
    std::string_view none;
    io_status s = io_status::ok;
    if (!client_.write_now(unwritten_, none, s)) {
      return false;
    }
    written = wrote(s);
    return true;
  }
  asio::awaitable<bool> write_rest() {
    const io_status s = co_await client_.write(unwritten_, {}, idle_);
    co_return wrote(s);
  }
  bool wrote(io_status s) {
    out_->clear();
    unwritten_ = {};
    if (s != io_status::ok) {
      ctx_.result = s == io_status::cancelled && ex_.cut_by_shutdown() ? outcome::shutdown_cut
                    : s == io_status::timeout                          ? outcome::client_write_timeout
                                                                       : outcome::client_write_failed;
      return false;
    }
    wrote_any_ = true;
    return true;
  }

  relay_result mid_body_failure(io_status s) {
    if (s == io_status::cancelled) {
      if (ex_.cut_by_shutdown()) {
        ctx_.result = outcome::shutdown_cut;
      }
      return relay_result{};  // the client left (release() says so), or the drain deadline cut it
    }
    ex_.failed_mid_body(
        s == io_status::timeout ? outcome::upstream_stream_timeout : outcome::upstream_reset_mid_body, s);
    return unanswered_or_cut(s == io_status::timeout ? "its answer stalled" : "its answer broke off");
  }

  // A failed answer: cut short when the client has had part of it (it sees a truncated body);
  // when it has had nothing, not even the head, it is answered 502 by the gateway (and charged as
  // a request the cluster never answered), so that the record and the client agree.
  relay_result unanswered_or_cut(std::string_view what) {
    if (wrote_any_ || ctx_.result == outcome::client_write_failed ||
        ctx_.result == outcome::client_write_timeout || ctx_.result == outcome::client_disconnected ||
        ctx_.result == outcome::shutdown_cut) {
      return relay_result{};
    }
    out_->clear();
    ctx_.response_bytes = 0;
    ctx_.completion.clear();
    // The same kind as failed_mid_body counted (upstream_error_kind_of): a stall a timeout, a
    // broken connection a reset, bad framing a protocol error.
    ctx_.result = unanswered_outcome(ctx_.result);
    ex_.charge_unanswered(true);
    relay_result r;
    r.unanswered_message = fmt::format("cluster '{}' failed: {}", ex_.cluster_name(), what);
    return r;
  }

  relay_result done() const {
    return relay_result{after_, ex_.response_head().keep_alive && ex_.buffered().empty(), {}};
  }

  request_context& ctx_;
  upstream_exchange& ex_;
  connection& client_;
  const request_recorder& recorder_;
  milliseconds idle_;
  bool chunked_ = false;
  bool paced_ = false;  // an event stream: wait for the cluster's next bytes before reading
  bool capture_ = false;
  bool wrote_any_ = false;  // the head (and maybe more) reached the client
  next_step after_ = next_step::close;
  pooled_buffer out_;           // what goes to the client next
  std::string_view unwritten_;  // the part of out_ the client's socket has not taken yet
  usage_meter meter_;
  std::string metered_;
  secret_mask mask_;
  std::string masked_;
};

}  // namespace

asio::awaitable<relay_result> relay(request_context& ctx, upstream_exchange& exchange, connection& client,
                                    const request_recorder& recorder, milliseconds idle, bool keep_alive) {
  relay_run run(ctx, exchange, client, recorder, idle, keep_alive);
  const relay_result r = co_await run.run();
  run.settle_usage();  // an answer cut short: its end_usage() never ran
  co_return r;
}

}  // namespace sovgw::gateway
