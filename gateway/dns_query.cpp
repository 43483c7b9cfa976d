#include "gateway/dns_query.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "gateway/dns_message.hpp"

namespace sovgw::gateway {

namespace {

using steady = std::chrono::steady_clock;
constexpr auto try_timeout = std::chrono::seconds(2);
constexpr int rounds = 2;                   // over all the servers
constexpr std::size_t max_message = 65535;  // a UDP datagram's and a TCP frame's bound

struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

struct target {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string label;
};

target make_target(const dns_server& s) {
  target t;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&t.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&t.addr);
  if (inet_pton(AF_INET, s.address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(s.port);
    t.len = sizeof(sockaddr_in);
    t.label = fmt::format("{}:{}", s.address, s.port);
  } else if (inet_pton(AF_INET6, s.address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(s.port);
    t.len = sizeof(sockaddr_in6);
    t.label = fmt::format("[{}]:{}", s.address, s.port);
  }
  return t;
}

enum class wait_result { ready, timeout, cancelled };

// Until `fd` has `events`, the deadline passes or `cancel` fires.
wait_result wait_for(int fd, short events, steady::time_point deadline, const dns_cancel* cancel) {
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - steady::now());
    if (left.count() <= 0) {
      return wait_result::timeout;
    }
    pollfd p[2] = {{fd, events, 0}, {cancel != nullptr ? cancel->fd() : -1, POLLIN, 0}};
    const int n = ::poll(p, 2, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) {
      return wait_result::timeout;
    }
    if (p[1].revents != 0) {
      return wait_result::cancelled;
    }
    if (n > 0 && p[0].revents != 0) {
      return wait_result::ready;
    }
  }
}

// One try at one server: an answer, or why not (`failure`), or cancelled.
struct try_result {
  dns::answer answer;
  std::string failure;
  bool cancelled = false;
};

try_result failed(std::string why) { return try_result{{}, std::move(why), false}; }

struct question {
  const std::string& host;
  dns::record_type type;
  std::uint16_t id;
  std::vector<std::uint8_t> wire;
};

bool send_all(int fd, const std::uint8_t* data, std::size_t size, steady::time_point deadline,
              const dns_cancel* cancel, try_result& r) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      r = failed(fmt::format("send: {}", std::strerror(errno)));
      return false;
    }
    if (const wait_result w = wait_for(fd, POLLOUT, deadline, cancel); w != wait_result::ready) {
      r = w == wait_result::cancelled ? try_result{{}, {}, true} : failed("no answer over TCP within 2 s");
      return false;
    }
  }
  return true;
}

bool read_exact(int fd, std::uint8_t* data, std::size_t size, steady::time_point deadline,
                const dns_cancel* cancel, try_result& r) {
  while (size > 0) {
    const ssize_t n = ::recv(fd, data, size, 0);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      r = failed(n == 0 ? "closed the TCP connection before its answer" : std::strerror(errno));
      return false;
    }
    if (const wait_result w = wait_for(fd, POLLIN, deadline, cancel); w != wait_result::ready) {
      r = w == wait_result::cancelled ? try_result{{}, {}, true} : failed("no answer over TCP within 2 s");
      return false;
    }
  }
  return true;
}

// A truncated UDP answer asked again over TCP (RFC 7766): the same question, length-prefixed.
try_result ask_tcp(const target& t, const question& q, const dns_cancel* cancel) {
  const fd_guard s{::socket(t.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) {
    return failed(fmt::format("socket: {}", std::strerror(errno)));
  }
  const steady::time_point deadline = steady::now() + try_timeout;
  try_result r;
  if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&t.addr), t.len) != 0 && errno != EINPROGRESS) {
    return failed(fmt::format("TCP connect: {}", std::strerror(errno)));
  }
  std::vector<std::uint8_t> framed = {static_cast<std::uint8_t>(q.wire.size() >> 8),
                                      static_cast<std::uint8_t>(q.wire.size())};
  framed.insert(framed.end(), q.wire.begin(), q.wire.end());
  std::uint8_t length[2];
  if (!send_all(s.fd, framed.data(), framed.size(), deadline, cancel, r) ||
      !read_exact(s.fd, length, 2, deadline, cancel, r)) {
    return r;
  }
  std::vector<std::uint8_t> message((std::size_t{length[0]} << 8) | length[1]);
  if (!read_exact(s.fd, message.data(), message.size(), deadline, cancel, r)) {
    return r;
  }
  r.answer = dns::parse_answer(message, q.id, q.host, q.type);
  const dns::parse_error e = r.answer.error;
  if (e == dns::parse_error::not_the_answer || e == dns::parse_error::too_short ||
      e == dns::parse_error::truncated) {
    return failed(fmt::format("{} over TCP", dns::describe(e)));
  }
  return r;
}

try_result ask_udp(const target& t, const question& q, const dns_cancel* cancel) {
  const fd_guard s{::socket(t.addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) {
    return failed(fmt::format("socket: {}", std::strerror(errno)));
  }
  // Connected: the kernel drops datagrams from any other address and port.
  if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&t.addr), t.len) != 0 ||
      ::send(s.fd, q.wire.data(), q.wire.size(), 0) < 0) {
    return failed(std::strerror(errno));
  }
  const steady::time_point deadline = steady::now() + try_timeout;
  std::vector<std::uint8_t> buf(max_message);
  while (true) {
    if (const wait_result w = wait_for(s.fd, POLLIN, deadline, cancel); w != wait_result::ready) {
      return w == wait_result::cancelled ? try_result{{}, {}, true} : failed("no answer within 2 s");
    }
    const ssize_t n = ::recv(s.fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        continue;
      }
      return failed(errno == ECONNREFUSED ? "nothing listens there (port unreachable)"
                                          : std::strerror(errno));
    }
    dns::answer a =
        dns::parse_answer(std::span(buf.data(), static_cast<std::size_t>(n)), q.id, q.host, q.type);
    if (a.error == dns::parse_error::not_the_answer || a.error == dns::parse_error::too_short) {
      continue;  // a stray or forged datagram: keep waiting for ours until the deadline
    }
    if (a.error == dns::parse_error::truncated) {
      return ask_tcp(t, q, cancel);
    }
    return try_result{std::move(a), {}, false};
  }
}

std::uint16_t random_id() {
  std::uint16_t id = 0;
  if (::getrandom(&id, sizeof id, 0) != sizeof id) {
    id = static_cast<std::uint16_t>(steady::now().time_since_epoch().count());
  }
  return id;
}

enum class query_status { answered, final_error, all_failed, cancelled };

// Asks the servers in turn, `rounds` times, until one answers (or says NXDOMAIN).
query_status ask_servers(const std::string& host, dns::record_type type, const std::vector<target>& targets,
                         const dns_cancel* cancel, dns::answer& out, std::string& why) {
  for (int round = 0; round < rounds; ++round) {
    for (const target& t : targets) {
      const std::uint16_t id = random_id();
      const question q{host, type, id, dns::build_query(id, host, type)};
      try_result r = ask_udp(t, q, cancel);
      if (r.cancelled) {
        return query_status::cancelled;
      }
      if (!r.failure.empty()) {
        why = fmt::format("{}: {}", t.label, r.failure);
        continue;
      }
      switch (r.answer.error) {
        case dns::parse_error::none:
          out = std::move(r.answer);
          return query_status::answered;
        case dns::parse_error::name_error:
          why = std::string(dns::describe(r.answer.error));
          return query_status::final_error;
        default:
          why = fmt::format("{}: {}", t.label, dns::describe(r.answer.error));
          break;
      }
    }
  }
  why = fmt::format("no usable answer from the name servers (last: {})", why);
  return query_status::all_failed;
}

// A getaddrinfo_a request: glibc's thread reads and writes it until the lookup is done.
struct system_lookup {
  std::string host;
  addrinfo hints{};
  gaicb cb{};
};

// The addresses of a finished lookup, in getaddrinfo's order.
void take_addresses(gaicb& cb, dns_answer& out) {
  for (const addrinfo* ai = cb.ar_result; ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* bytes =
        ai->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr);
    if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
        inet_ntop(ai->ai_family, bytes, text, sizeof text) != nullptr) {
      out.addresses.emplace_back(text);
    }
  }
  freeaddrinfo(cb.ar_result);
  cb.ar_result = nullptr;
}

}  // namespace

dns_answer system_resolve(const std::string& host, const dns_cancel* cancel) {
  dns_answer out;
  auto lookup = std::make_unique<system_lookup>();
  lookup->host = host;
  lookup->hints.ai_family = AF_UNSPEC;
  lookup->hints.ai_socktype = SOCK_STREAM;
  lookup->hints.ai_flags = AI_ADDRCONFIG;
  lookup->cb.ar_name = lookup->host.c_str();
  lookup->cb.ar_request = &lookup->hints;
  gaicb* list[1] = {&lookup->cb};
  sigevent no_signal{};
  no_signal.sigev_notify = SIGEV_NONE;
  if (const int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, &no_signal); rc != 0) {
    out.error = gai_strerror(rc);
    return out;
  }
  constexpr timespec slice{0, 50'000'000};  // how often a cancel is looked for
  int state = 0;
  while ((state = gai_error(&lookup->cb)) == EAI_INPROGRESS) {
    if (cancel != nullptr && cancel->cancelled()) {
      const int cancelled = gai_cancel(&lookup->cb);
      if (cancelled == EAI_ALLDONE) {
        continue;  // it has just finished
      }
      if (cancelled == EAI_NOTCANCELED) {
        (void)lookup.release();  // glibc's thread still writes into it
      }
      out.cancelled = true;
      out.error = "cancelled: the gateway is stopping";
      return out;
    }
    (void)gai_suspend(list, 1, &slice);
  }
  if (state != 0) {
    out.error = gai_strerror(state);
    return out;
  }
  take_addresses(lookup->cb, out);
  if (out.addresses.empty()) {
    out.error = "the name has no address";
  }
  return out;
}

dns_cancel::dns_cancel() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (fd_ < 0) {
    throw std::runtime_error(fmt::format("eventfd: {}", std::strerror(errno)));
  }
}

dns_cancel::~dns_cancel() { ::close(fd_); }

void dns_cancel::cancel() {
  cancelled_.store(true);
  const std::uint64_t one = 1;
  (void)!::write(fd_, &one, sizeof one);
}

dns_answer dns_resolve(const std::string& host, const std::vector<dns_server>& servers,
                       const dns_cancel* cancel) {
  dns_answer out;
  if (dns::wire_name(host).empty()) {
    out.error = "not a DNS name";
    return out;
  }
  std::vector<target> targets;
  for (const dns_server& s : servers) {
    if (target t = make_target(s); t.len != 0) {
      targets.push_back(std::move(t));
    }
  }
  bool any_ttl = false;
  for (const dns::record_type type : {dns::record_type::a, dns::record_type::aaaa}) {
    dns::answer a;
    const query_status status = ask_servers(host, type, targets, cancel, a, out.error);
    if (status != query_status::answered) {
      out.cancelled = status == query_status::cancelled;
      if (out.cancelled) {
        out.error = "cancelled: the gateway is stopping";
      }
      out.addresses.clear();
      return out;
    }
    for (const dns::address& address : a.addresses) {
      out.addresses.push_back(address.to_string());
    }
    if (a.ttl_s) {
      out.ttl_s = any_ttl ? std::min(out.ttl_s, *a.ttl_s) : *a.ttl_s;
      any_ttl = true;
    }
  }
  out.error.clear();
  if (out.addresses.empty()) {
    out.error = "the name has no A or AAAA record";
  }
  return out;
}

}  // namespace sovgw::gateway
