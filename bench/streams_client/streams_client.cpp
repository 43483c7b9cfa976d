// streams_client: holds N concurrent streamed chat completions through a TLS proxy and reports,
// for bench/compare-streams.sh, how many completed, the time to the first event (p50/p99), and —
// when given the proxy's pid — its CPU time and peak RSS while the streams ran.
//
//   streams_client --port P --ca CA.pem --streams N [--host 127.0.0.1] [--pid PROXY_PID]
//                  [--parallel-connects 64] [--timeout-s 120]
//
// All N TLS connections are opened first (at most --parallel-connects handshakes at a time); then
// every request is sent at once, so the N streams are in flight together. Output: one JSON line.

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

namespace {

struct options {
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  std::string ca;
  int streams = 100;
  int parallel = 64;
  int pid = 0;
  int timeout_s = 120;
};

struct stream_result {
  bool connected = false;
  bool completed = false;
  double ttfb_ms = -1;
  long events = 0;
};

const std::string body =
    R"({"model":"mistral-small","stream":true,"messages":[{"role":"user","content":"Where does my data stay?"}]})";

std::string request(const options& o) {
  return fmt::format(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\n\r\n{}",
      "localhost", body.size(), body);
}

// /proc/<pid>/stat utime+stime in seconds, and VmRSS in KiB.
double cpu_seconds(int pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  unsigned long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) {
      utime = std::stoul(field);
    } else if (i == 15) {
      stime = std::stoul(field);
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long rss_kib(int pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return 0;
}

class client {
 public:
  client(asio::io_context& ioc, ssl::context& tls, const options& o) : ioc_(ioc), tls_(tls), o_(o) {}

  void run() {
    results_.resize(static_cast<std::size_t>(o_.streams));
    streams_.resize(results_.size());
    baseline_rss_ = o_.pid ? rss_kib(o_.pid) : 0;
    for (int i = 0; i < std::min(o_.parallel, o_.streams); ++i) {
      asio::co_spawn(ioc_, connector(), asio::detached);
    }
    ioc_.run();
  }

  void report() const {
    std::vector<double> ttfb;
    long events = 0;
    int connected = 0, completed = 0;
    for (const auto& r : results_) {
      connected += r.connected;
      completed += r.completed;
      events += r.events;
      if (r.ttfb_ms >= 0) {
        ttfb.push_back(r.ttfb_ms);
      }
    }
    std::sort(ttfb.begin(), ttfb.end());
    auto pct = [&](double p) {
      return ttfb.empty() ? -1.0 : ttfb[std::min(ttfb.size() - 1, static_cast<std::size_t>(p * ttfb.size()))];
    };
    std::printf(
        "{\"streams\":%d,\"connected\":%d,\"completed\":%d,\"events\":%ld,\"ttfb_p50_ms\":%.2f,\"ttfb_p99_"
        "ms\":%.2f,"
        "\"stream_seconds\":%.2f,\"proxy_cpu_s\":%.3f,\"proxy_rss_baseline_kib\":%ld,\"proxy_rss_peak_kib\":%"
        "ld}\n",
        o_.streams, connected, completed, events, pct(0.5), pct(0.99), stream_seconds_, cpu_end_ - cpu_start_,
        baseline_rss_, peak_rss_);
  }

 private:
  // Opens connections one after another (o_.parallel connectors run side by side).
  asio::awaitable<void> connector() {
    while (next_connect_ < o_.streams) {
      const int i = next_connect_++;
      auto s = std::make_unique<ssl::stream<tcp::socket>>(ioc_, tls_);
      tcp::endpoint ep(asio::ip::make_address(o_.host), o_.port);
      auto [ec] = co_await s->next_layer().async_connect(ep, nothrow);
      if (!ec) {
        SSL_set_tlsext_host_name(s->native_handle(), "localhost");
        std::tie(ec) = co_await s->async_handshake(ssl::stream_base::client, nothrow);
      }
      results_[static_cast<std::size_t>(i)].connected = !ec;
      streams_[static_cast<std::size_t>(i)] = std::move(s);
      if (++connects_done_ == o_.streams) {
        fire();
      }
    }
  }

  void fire() {
    running_ = o_.streams;
    if (o_.pid) {
      cpu_start_ = cpu_seconds(o_.pid);
      asio::co_spawn(ioc_, sampler(), asio::detached);
    }
    fired_at_ = clock_type::now();
    for (int i = 0; i < o_.streams; ++i) {
      asio::co_spawn(ioc_, one_stream(i), asio::detached);
    }
  }

  asio::awaitable<void> sampler() {
    asio::steady_timer t(ioc_);
    while (running_ > 0) {
      peak_rss_ = std::max(peak_rss_, rss_kib(o_.pid));
      t.expires_after(std::chrono::milliseconds(50));
      co_await t.async_wait(nothrow);
    }
  }

  asio::awaitable<void> one_stream(int i) {
    auto& r = results_[static_cast<std::size_t>(i)];
    auto& s = *streams_[static_cast<std::size_t>(i)];
    if (r.connected) {
      const std::string req = request(o_);
      const auto sent_at = clock_type::now();
      auto [wec, wn] = co_await asio::async_write(s, asio::buffer(req), nothrow);
      std::string buf;
      std::string tail;
      bool head_done = false;
      bool saw_done = false;
      char chunk[16384];
      while (!wec) {
        auto [ec, n] = co_await s.async_read_some(asio::buffer(chunk), nothrow);
        if (ec) {
          break;
        }
        std::string_view data(chunk, n);
        if (!head_done) {
          buf.append(data);
          const auto end = buf.find("\r\n\r\n");
          if (end == std::string::npos) {
            continue;
          }
          if (buf.rfind("HTTP/1.1 200", 0) != 0) {
            break;
          }
          head_done = true;
          data = std::string_view(buf).substr(end + 4);
        }
        // Count SSE events across read boundaries: keep the last few bytes.
        std::string scan = tail + std::string(data);
        for (auto at = scan.find("data: "); at != std::string::npos; at = scan.find("data: ", at + 1)) {
          if (at + 6 > tail.size()) {
            if (r.events++ == 0) {
              r.ttfb_ms = std::chrono::duration<double, std::milli>(clock_type::now() - sent_at).count();
            }
          }
        }
        saw_done = saw_done || scan.find("[DONE]") != std::string::npos;
        if (saw_done && scan.find("0\r\n\r\n") != std::string::npos) {
          r.completed = true;
          break;
        }
        tail = scan.substr(scan.size() > 16 ? scan.size() - 16 : 0);
      }
    }
    boost::system::error_code ignored;
    s.next_layer().close(ignored);
    if (--running_ == 0) {
      stream_seconds_ = std::chrono::duration<double>(clock_type::now() - fired_at_).count();
      if (o_.pid) {
        cpu_end_ = cpu_seconds(o_.pid);
      }
      ioc_.stop();
    }
  }

  asio::io_context& ioc_;
  ssl::context& tls_;
  const options& o_;
  std::vector<stream_result> results_;
  std::vector<std::unique_ptr<ssl::stream<tcp::socket>>> streams_;
  int next_connect_ = 0;
  int connects_done_ = 0;
  int running_ = 0;
  clock_type::time_point fired_at_{};
  double stream_seconds_ = 0;
  double cpu_start_ = 0, cpu_end_ = 0;
  long baseline_rss_ = 0, peak_rss_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--host") {
      o.host = v;
    } else if (k == "--port") {
      o.port = static_cast<unsigned short>(std::stoi(v));
    } else if (k == "--ca") {
      o.ca = v;
    } else if (k == "--streams") {
      o.streams = std::stoi(v);
    } else if (k == "--parallel-connects") {
      o.parallel = std::stoi(v);
    } else if (k == "--pid") {
      o.pid = std::stoi(v);
    } else if (k == "--timeout-s") {
      o.timeout_s = std::stoi(v);
    } else {
      std::fprintf(stderr, "streams_client: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (o.port == 0 || o.ca.empty()) {
    std::fprintf(stderr, "usage: streams_client --port P --ca CA.pem --streams N [--pid PROXY_PID]\n");
    return 2;
  }
  asio::io_context ioc(1);
  ssl::context tls(ssl::context::tls_client);
  tls.load_verify_file(o.ca);
  tls.set_verify_mode(ssl::verify_peer);
  client c(ioc, tls, o);
  asio::steady_timer deadline(ioc, std::chrono::seconds(o.timeout_s));
  deadline.async_wait([&](const boost::system::error_code& ec) {
    if (!ec) {
      ioc.stop();
    }
  });
  c.run();
  c.report();
  return 0;
}
