#include "gateway/admin_server.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <functional>
#include <optional>
#include <thread>

#include "common/ascii.hpp"
#include "common/printable.hpp"
#include "common/trusted_file.hpp"
#include "crypto/key_file.hpp"
#include "crypto/sha256.hpp"
#include "gateway/endpoint_distance.hpp"
#include "gateway/endpoint_health.hpp"
#include "gateway/log.hpp"
#include "gateway/responses.hpp"
#include "policy/ip_address.hpp"

namespace sovgw::gateway {

namespace {

// An age as the config and the CLI write it: "1d", "36h", "90m", "45s" (the largest whole unit).
std::string age_words(std::uint64_t seconds) {
  for (const auto& [unit, size] :
       {std::pair{"d", 86400ULL}, std::pair{"h", 3600ULL}, std::pair{"m", 60ULL}}) {
    if (seconds != 0 && seconds % size == 0) {
      return fmt::format("{}{}", seconds / size, unit);
    }
  }
  return fmt::format("{}s", seconds);
}

constexpr milliseconds linger_time{2000};
constexpr milliseconds admin_request_time{10000};

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

struct admin_answer {
  int status = 200;
  std::string body;  // JSON
};

// An error as the gateway answers its clients' (OpenAI-style): message, type and a code that
// follows from the status.
admin_answer admin_error(int status, std::string_view message) {
  std::string_view type = status >= 500 ? "server_error" : "invalid_request_error";
  std::string_view code = "bad_request";
  switch (status) {
    case 401:
      type = "authentication_error";
      code = "unauthorized";
      break;
    case 403:
      type = "permission_error";
      code = "forbidden";
      break;
    case 404:
      code = "not_found";
      break;
    case 405:
      code = "method_not_allowed";
      break;
    case 408:
      code = "request_timeout";
      break;
    case 414:
      code = "request_line_too_long";
      break;
    case 431:
      code = "headers_too_large";
      break;
    case 409:
      code = "job_running";
      break;
    case 503:
      code = "unavailable";
      break;
    default:
      code = status >= 500 ? "server_error" : "bad_request";
  }
  std::string body = "{\"error\":{\"message\":";
  append_json_string(body, message);
  body += fmt::format(",\"type\":\"{}\",\"code\":\"{}\"}}}}\n", type, code);
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
            std::move (*h)(admin_error(409, "another audit job is running; try again when it has finished"));
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
          asio::post(ex, [h, answer = std::move(answer)]() mutable { std::move (*h)(std::move(answer)); });
        });
      },
      asio::use_awaitable);
}

// The query of an irreversible job names its one parameter once: `tenant=a&tenant=b` or an unknown
// name is refused rather than read one way here and another by whoever wrote it. "" when it does.
std::string query_problem(std::string_view target, std::string_view expected) {
  const auto q = target.find('?');
  std::string_view rest = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  bool seen = false;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const std::string_view name = pair.substr(0, pair.find('='));
    if (name != expected) {
      return fmt::format("unexpected query parameter '{}': this job takes only {}", name.substr(0, 64),
                         expected);
    }
    if (seen) {
      return fmt::format("{} is given twice: give it once", expected);
    }
    seen = true;
  }
  return {};
}

// POST /admin/audit/shred?tenant=T and POST /admin/audit/retain?older_than=90d: the auditors'
// `shred` and `retain` for a log a running gateway holds open (the CLI cannot open it then).
asio::awaitable<admin_answer> audit_admin(worker& w, std::string_view path, std::string_view target) {
  audit::audit_log* log = w.shared.audit.get();
  if (log == nullptr) {
    co_return admin_error(404, "this gateway has no audit log (no audit: section in its config)");
  }
  if (w.shared.draining.load(std::memory_order_relaxed)) {
    co_return admin_error(
        503, "the gateway is shutting down; run the job with the sovgw audit CLI once it has stopped");
  }
  if (const std::string problem =
          query_problem(target, path == "/admin/audit/shred" ? "tenant" : "older_than");
      !problem.empty()) {
    co_return admin_error(400, problem);
  }
  // A job writes its event to the log: not while the log cannot write (probe round 43: a 500 with
  // RocksDB's words). The same 503 as the data plane, with /readyz's reason.
  if (const audit::log_health h = log->health(); h.state == audit::health_state::failed) {
    co_return admin_error(503,
                          fmt::format("the audit log cannot record right now ({}); nothing was {}: run the "
                                      "job again once /readyz is ready",
                                      h.reason, path == "/admin/audit/shred" ? "shredded" : "dropped"));
  }
  if (path == "/admin/audit/shred") {
    const auto tenant = query_param(target, "tenant");
    if (!tenant || tenant->empty() || tenant->size() > 1024) {
      co_return admin_error(400, "name the tenant: POST /admin/audit/shred?tenant=T (percent-encoded)");
    }
    std::function<admin_answer()> job = [log, tenant = *tenant] {
      auto seq = log->shred_tenant(tenant);
      if (!seq.is_ok()) {
        return admin_error(seq.error().code() == audit::error_code::not_found ? 404 : 500,
                           seq.error().message());
      }
      log_line("info", "audit tenant shredded")
          .str("tenant", tenant)
          .num("record", static_cast<std::int64_t>(seq.value()))
          .emit();
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
    co_return admin_error(
        400, age_text
                 ? fmt::format("older_than '{}' is not an age: write it like 90d, 12h, 30m or 3600s",
                               age_text->substr(0, 64))
                 : std::string("give the retention age: POST /admin/audit/retain?older_than=90d (d, h, m "
                               "or s)"));
  }
  if (*age < w.shared.cfg->admin_min_retention_seconds) {
    co_return admin_error(
        400, fmt::format("refusing to drop payloads younger than {} (admin.min_retention); ask for an "
                         "older_than of at least that",
                         age_words(w.shared.cfg->admin_min_retention_seconds)));
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
    log_line("info", "audit retention run")
        .str("older_than", age_text)
        .num("dropped", static_cast<std::int64_t>(dropped.value()))
        .emit();
    std::string body = fmt::format("{{\"dropped\":{},\"older_than\":", dropped.value());
    append_json_string(body, age_text);
    body += ",\"message\":\"payloads past retention are deleted; their records stay provable\"}\n";
    return admin_answer{200, std::move(body)};
  };
  co_return co_await run_audit_job(w, job);
}

// /readyz: not while draining, nor while the audit log cannot record, nor while no cluster has an
// endpoint it can use (nothing would be forwarded).
std::string readiness(const worker& w, bool draining) {
  if (draining) {
    return "draining\n";
  }
  if (w.shared.audit && !w.shared.audit->accepting()) {
    const audit::log_health h = w.shared.audit->health();
    return fmt::format("audit log {}: {}\n", audit::health_state_name(h.state), h.reason);
  }
  if (!any_cluster_reachable(w.shared.upstreams)) {
    return "no cluster can be reached: every endpoint is marked down, refused by its geo check or "
           "contradicted by a round trip (below); requests are answered 503 cluster_unavailable until one "
           "is tried again\n";
  }
  return "ready\n";
}

// Whether an admin job may run: a browser's cross-site request is refused whatever it carries
// (a local web page must not be able to post a form here), then the bearer token must match
// admin.token_file's, compared in constant time (as SHA-256 digests: the length leaks nothing).
// Status 0 when the job may run.
admin_answer authorize_admin_job(const worker& w, const http::message_head& head) {
  if (const http::field* site = head.find("sec-fetch-site");
      site != nullptr && site->value != "same-origin" && site->value != "none") {
    return admin_error(403, "cross-site requests to admin jobs are refused (Sec-Fetch-Site)");
  }
  if (const http::field* origin = head.find("origin");
      origin != nullptr &&
      (origin->value.substr(0, 7) != "http://" || origin->value.substr(7) != head.host)) {
    return admin_error(403, "requests to admin jobs from another origin are refused (Origin)");
  }
  const std::shared_ptr<const std::string> token = w.shared.admin_token.load();
  if (token == nullptr) {
    return admin_error(403,
                       "admin jobs need authentication: set admin.token_file in the gateway config "
                       "(docs/configuration.md)");
  }
  const http::field* auth = head.find("authorization");
  if (std::count_if(head.fields.begin(), head.fields.end(),
                    [](const http::field& f) { return f.id == http::field_id::authorization; }) > 1) {
    return admin_error(401, "admin jobs need one Authorization field, not several");
  }
  constexpr std::string_view scheme = "Bearer ";
  if (auth == nullptr || auth->value.size() <= scheme.size() ||
      !http::iequals(auth->value.substr(0, scheme.size()), scheme)) {
    return admin_error(401, "admin jobs need Authorization: Bearer <the token in admin.token_file>");
  }
  const crypto::sha256_digest given = crypto::sha256(auth->value.substr(scheme.size()));
  if (CRYPTO_memcmp(given.data(), token->data(), given.size()) != 0) {
    return admin_error(401, "wrong admin token");
  }
  return admin_answer{0, {}};
}

std::string read_admin_token(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw std::runtime_error(
        fmt::format("admin.token_file {} is not a readable regular file", path_or_secret(path)));
  }
  if ((st.st_mode & 077) != 0) {
    throw std::runtime_error(fmt::format(
        "refusing to use admin.token_file {}: its mode {:04o} lets other users read it (run `chmod 600 {}`)",
        path, st.st_mode & 07777, shell_word(path)));
  }
  if (std::string problem = others_may_change(path, "admin.token_file"); !problem.empty()) {
    throw std::runtime_error(problem);
  }
  std::string token = crypto::read_small_file(path, "admin token file");
  while (!token.empty() &&
         (token.back() == '\n' || token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) {
    token.pop_back();
  }
  // What a client can send in `Authorization: Bearer …`: visible ASCII (probe round 36: a control
  // character was taken, and no request could carry the token: the admin jobs were locked out).
  if (const auto bad = std::find_if(token.begin(), token.end(), [](char c) { return c < 0x21 || c > 0x7e; });
      bad != token.end()) {
    throw std::runtime_error(fmt::format(
        "admin.token_file {} must hold one token of visible ASCII characters, which an Authorization header "
        "can carry: it has byte 0x{:02x} at character {} (e.g. `openssl rand -hex 32`)",
        path, static_cast<unsigned char>(*bad), 1 + (bad - token.begin())));
  }
  if (token.size() < 32) {
    throw std::runtime_error(fmt::format(
        "admin.token_file {} must hold one token of at least 32 characters, not {} (e.g. `openssl rand -hex 32`)",
        path, token.size()));
  }
  const crypto::sha256_digest d = crypto::sha256(token);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

}  // namespace

std::string load_admin_token(const config& cfg) {
  try {
    return read_admin_token(cfg.admin_token_file);
  } catch (const std::exception& e) {
    throw config_error(cfg.at("admin.token_file", e.what()), true);
  }
}

// Whether the listener answers a request addressed to `host` (the Host field, port included): an
// IP address, `localhost`, or a name in admin.hosts. A web page whose own name its DNS server
// turns into this listener's address (DNS rebinding) reaches it as that name, which is refused:
// it could otherwise read /metrics and /readyz across origins.
bool addressed_to_us(std::string_view host, const std::vector<std::string>& names) {
  if (host.empty()) {
    return true;  // HTTP/1.0 without Host: no browser sends that
  }
  if (host.front() == '[') {
    const std::size_t close = host.find(']');
    return close != std::string_view::npos && policy::parse_ip(host.substr(1, close - 1)).has_value();
  }
  const std::string_view name = host.substr(0, host.find(':'));
  if (const auto ip = policy::parse_ip(name); ip && ip->v4) {
    return true;
  }
  return ascii_iequals(name, "localhost") ||
         std::any_of(names.begin(), names.end(),
                     [&](const std::string& n) { return ascii_iequals(name, n); });
}

namespace {

// What the admin listener answers with GET and HEAD.
bool known_admin_path(std::string_view path) {
  return path == "/healthz" || path == "/readyz" || path == "/metrics" ||
         path == "/.well-known/sovgw-keys.json";
}

}  // namespace

asio::awaitable<void> serve_admin_connection(worker& w, tcp::socket socket,
                                             std::shared_ptr<admin_slot> slot) {
  auto conn = std::make_shared<connection>(std::move(socket), nullptr);
  slot->conn = conn;
  std::string buf;
  http::limits lim;
  while (true) {
    slot->idle = true;
    slot->idle_since = std::chrono::steady_clock::now();
    http::head_scanner scanner(lim, true);
    http::head_scanner::state st = scanner.scan(buf);
    // The whole head within admin_request_time, however slowly it trickles in.
    const auto deadline = std::chrono::steady_clock::now() + admin_request_time;
    bool timed_out = false;
    while (st == http::head_scanner::state::need_more) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        break;
      }
      connection::read_result r = co_await conn->read_into(buf, 4096, left);
      if (r.status == io_status::timeout) {
        timed_out = true;
        break;
      }
      if (r.status != io_status::ok) {
        conn->close();
        co_return;
      }
      st = scanner.scan(buf);
    }
    if (timed_out && buf.empty()) {
      conn->close();  // idle: nothing to answer
      co_return;
    }
    slot->idle = false;
    http::message_head head;
    // What cannot be read is answered as the data listener answers it (probe round 40: a 70 KB
    // field, or a 9 KB target, was a "malformed request line"): 408, 414, 431 or 400 with why.
    const http::parse_error parsed =
        timed_out ? http::parse_error::none
        : st == http::head_scanner::state::error
            ? scanner.error()
            : http::parse_request_head(buf.substr(0, scanner.head_size()), lim, head);
    if (timed_out || parsed != http::parse_error::none ||
        (head.framing != http::body_framing::none &&
         !(head.framing == http::body_framing::content_length && head.content_length == 0))) {
      // Answering and lingering wait on the client too: the slot is anyone's meanwhile. Said as
      // every other refusal is (probe round 34: a bare 400 left a job's form body unexplained).
      slot->idle = true;
      slot->idle_since = std::chrono::steady_clock::now();
      const int status = timed_out ? 408 : parsed != http::parse_error::none ? http::status_for(parsed) : 400;
      const admin_answer a = admin_error(
          status,
          timed_out
              ? fmt::format("the request head did not arrive within {}s",
                            std::chrono::duration_cast<std::chrono::seconds>(admin_request_time).count())
          : parsed != http::parse_error::none
              ? fmt::format("the request cannot be read: {}", http::describe(parsed))
              : std::string("the admin listener takes no request body: a job's parameters go in the "
                            "query (POST /admin/audit/retain?older_than=30d)"));
      const std::string head_out = fmt::format(
          "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
          "Connection: close\r\n\r\n",
          status, reason_phrase(status), a.body.size());
      co_await conn->write(head_out, a.body, milliseconds(5000));
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
    if (!addressed_to_us(head.host, w.shared.cfg->admin_hosts)) {
      admin_answer a = admin_error(403, fmt::format("the admin listener answers requests addressed to an IP "
                                                    "address or localhost, not to '{}': add the name to "
                                                    "admin.hosts to use it",
                                                    head.host.substr(0, 253)));
      status = a.status;
      body = std::move(a.body);
      type = "application/json";
    } else if (admin_job && head.method == "POST") {
      admin_answer a = authorize_admin_job(w, head);
      if (a.status == 0) {
        a = co_await audit_admin(w, path, head.target);
      }
      status = a.status;
      body = std::move(a.body);
      type = "application/json";
    } else if (!admin_job && head.method == "POST" && !known_admin_path(path)) {
      // A job's path mistyped (`/admin/audit/retain/`, `/ADMIN/...`): not found, with the jobs
      // named, rather than "use GET" (probe round 40).
      admin_answer a =
          admin_error(404, fmt::format("no admin job at {}: the jobs are POST /admin/audit/shred "
                                       "and POST /admin/audit/retain",
                                       path.substr(0, 200)));
      status = a.status;
      body = std::move(a.body);
      type = "application/json";
    } else if (admin_job || (head.method != "GET" && head.method != "HEAD")) {
      admin_answer a = admin_error(405, admin_job ? fmt::format("{} is a job: use POST", path)
                                                  : std::string("the admin listener answers GET and HEAD, "
                                                                "and POST for its jobs"));
      status = a.status;
      body = std::move(a.body);
      type = "application/json";
    } else if (path == "/healthz") {
      body = "ok\n";
    } else if (path == "/readyz") {
      body = readiness(w, draining);
      status = body == "ready\n" ? 200 : 503;
      body += w.shared.failed_reloads.text();  // still 200: the last good files serve
      body += endpoint_down_text(w.shared.upstreams);
      body += w.shared.endpoints->report()->text();
      body += endpoint_distance_text(w.shared.upstreams);
    } else if (path == "/.well-known/sovgw-keys.json") {
      body = w.shared.tagger->jwk_set();  // the request and receipt verification keys (docs/signatures.md)
      type = "application/jwk-set+json";
    } else if (path == "/metrics") {
      body = w.shared.stats->render();
      if (const std::string version = w.shared.stages->policy_version(); !version.empty()) {
        // Hex digits only: no escaping needed in the label.
        fmt::format_to(std::back_inserter(body),
                       "# HELP sovgw_policy_info The policy version in force (its SHA-256; `sovgw policy "
                       "check` prints its first 16 digits).\n# TYPE sovgw_policy_info gauge\nsovgw_policy_info{{version=\"{}\"}} 1\n",
                       version);
      }
      if (w.shared.audit) {
        body += render_audit_metrics(*w.shared.audit);
      }
      type = "text/plain; version=0.0.4; charset=utf-8";
    } else {
      admin_answer a =
          admin_error(404,
                      "not found; try /healthz, /readyz, /metrics, /.well-known/sovgw-keys.json, "
                      "POST /admin/audit/shred or POST /admin/audit/retain");
      status = a.status;
      body = std::move(a.body);
      type = "application/json";
    }
    // Writing waits on the client as reading does: a client that does not read its answers (requests
    // pipelined, never read) gives up its slot to a new connection like an idle one.
    slot->idle = true;
    slot->idle_since = std::chrono::steady_clock::now();
    std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}{}\r\n",
                                  status, reason_phrase(status), type, body.size(),
                                  status == 401   ? "WWW-Authenticate: Bearer\r\n"
                                  : status == 405 ? (admin_job ? "Allow: POST\r\n" : "Allow: GET, HEAD\r\n")
                                                  : "",
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
