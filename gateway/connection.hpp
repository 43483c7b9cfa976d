#pragma once

// A TCP connection, TLS or (loopback-only) plaintext, with read and write deadlines.
//
// TLS runs OpenSSL directly on the socket's file descriptor (through a lean socket BIO,
// non-blocking, waiting for readiness through Asio) instead of asio::ssl::stream: that saves the
// ~70 KiB of engine and BIO-pair buffers asio::ssl keeps per stream, and with
// SSL_MODE_RELEASE_BUFFERS an idle TLS connection holds only OpenSSL's session state.
//
// Thread-safety: none. A connection belongs to one worker thread (one io_context); at most one read
// (or wait_readable) and one write may be outstanding at a time.
// Lifetime: always held by std::shared_ptr; pending deadline timers keep it alive until close().

#include <openssl/ssl.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace sovgw::gateway {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

enum class io_status : std::uint8_t { ok, eof, timeout, cancelled, error };

[[nodiscard]] std::string_view to_string(io_status s);

struct ssl_deleter {
  void operator()(SSL* s) const { SSL_free(s); }
};
using ssl_ptr = std::unique_ptr<SSL, ssl_deleter>;

class connection : public std::enable_shared_from_this<connection> {
 public:
  // `ssl` may be null for a plaintext connection. The SSL object must already be in accept or
  // connect state; the connection attaches it to the socket's descriptor.
  connection(tcp::socket socket, ssl_ptr ssl);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // TLS handshake (no-op for plaintext). On failure, `detail` names the OpenSSL reason.
  asio::awaitable<io_status> handshake(milliseconds timeout, std::string& detail);
  // After a failed handshake: whether the client spoke plain HTTP to the TLS port (OpenSSL
  // recognises a request line where a ClientHello belongs).
  [[nodiscard]] bool plain_http_at_handshake() const { return plain_http_; }
  // Tells such a client, in plain HTTP, that this port speaks TLS (best effort: one write of a
  // small answer on a fresh connection, without waiting), before the connection is closed.
  void answer_plain_http();

  struct read_result {
    io_status status;
    std::size_t bytes;
  };
  asio::awaitable<read_result> read_some(char* data, std::size_t size, milliseconds timeout);
  // Appends what one read returns to `buffer` (growing it by up to `max_chunk`).
  asio::awaitable<read_result> read_into(std::string& buffer, std::size_t max_chunk, milliseconds timeout);

  // Writes all of `a` then `b` (as few TLS records as OpenSSL makes of them).
  asio::awaitable<io_status> write(std::string_view a, std::string_view b, milliseconds timeout);

  // The same without waiting, for the hot paths, where bytes are usually there to read and room to
  // write: calling a coroutine costs a frame and a resumption even when it never suspends.
  // read_now: true with `out` set when a read returned something (or failed); false, having read
  // nothing, when it would block: then co_await read_into_after_block, which waits first.
  [[nodiscard]] bool read_now(std::string& buffer, std::size_t max_chunk, read_result& out);
  asio::awaitable<read_result> read_into_after_block(std::string& buffer, std::size_t max_chunk,
                                                     milliseconds timeout);
  // read_into for a peer that paces its bytes (an event stream): waits for them first, unless
  // OpenSSL already holds some, instead of a read(2) that would find nothing.
  asio::awaitable<read_result> read_into_paced(std::string& buffer, std::size_t max_chunk,
                                               milliseconds timeout);
  // Whether a read that ended the peer's data (io_status::eof) met a reset, not a clean close: a TCP
  // RST, or over TLS a system error instead of close_notify. A body that ends when its connection
  // closes is then cut short, not complete: anyone on the path can inject a reset.
  [[nodiscard]] bool ended_by_reset() const noexcept { return ended_by_reset_; }
  // write_now: true with `out` set when all of `a` and `b` went out (or the write failed); false
  // when it would block, with `a` and `b` advanced past what went out: then co_await write(a, b, …).
  [[nodiscard]] bool write_now(std::string_view& a, std::string_view& b, io_status& out);

  // Waits until data (or EOF) can be read, without reading. timeout 0: no deadline.
  asio::awaitable<io_status> wait_readable(milliseconds timeout);
  // Calls `done` (never inline) once the peer has sent something or gone away (io_status::ok; the
  // next read tells which), or with timeout/cancelled/error; timeout 0: no deadline. No coroutine
  // frame, for idle connections. Every call is served by one queued one-byte MSG_PEEK receive until
  // it completes: the client watch of a request and the idle wait after it share it, which saves a
  // keep-alive request the watch's cancellation and a readiness wait (Asio re-arms the descriptor
  // with an EPOLL_CTL_MOD for every readiness wait; a receive completes with a recv instead). A
  // later call replaces the handler; drop_on_readable() removes it and leaves the receive queued.
  void on_readable(milliseconds timeout, std::function<void(io_status)> done);
  void drop_on_readable();

  // Non-blocking: true if the peer has closed, reset, or sent anything (for a connection that
  // should be silent, such as an idle pooled upstream connection or a client during a relay).
  [[nodiscard]] bool peer_closed_or_sent();
  // Non-blocking: true only if the peer has closed or reset (TLS close_notify counts as closed;
  // application data does not). Used to detect that a client went away during a relay.
  [[nodiscard]] bool peer_gone();

  // Cancels outstanding operations (they complete with io_status::cancelled), and every later one.
  void cancel();
  // Best-effort TLS close_notify, then closes the socket. Idempotent.
  void close();
  // For error responses: close_notify, half-close, then read and drop what the client still sends
  // (at most `max_wait`) so that closing does not reset the connection before the response arrives.
  asio::awaitable<void> linger_close(milliseconds max_wait);

  [[nodiscard]] bool is_open() const { return socket_.is_open(); }
  [[nodiscard]] bool is_tls() const { return ssl_ != nullptr; }
  [[nodiscard]] SSL* ssl() const { return ssl_.get(); }
  [[nodiscard]] tcp::socket& socket() { return socket_; }
  [[nodiscard]] std::chrono::steady_clock::time_point idle_since() const { return idle_since_; }
  void mark_idle() { idle_since_ = std::chrono::steady_clock::now(); }
  // The round trip measured when the connection was made (upstream: the TLS handshake, or the TCP
  // connect for plaintext), microseconds; 0: not measured. The physical evidence of docs/evidence.md.
  [[nodiscard]] std::uint64_t rtt_us() const { return rtt_us_; }
  void set_rtt_us(std::uint64_t us) { rtt_us_ = us; }
  // Upstream: which of the endpoint's addresses (endpoint_addresses::usable) it was made to.
  [[nodiscard]] std::uint32_t address_index() const { return address_index_; }
  void set_address_index(std::uint32_t i) { address_index_ = i; }

 private:
  using clock = std::chrono::steady_clock;
  void set_deadline(clock::time_point& which, milliseconds timeout);
  void clear_deadline(clock::time_point& which) { which = clock::time_point::max(); }
  void arm_timer();
  void on_timer(std::uint64_t generation);
  asio::awaitable<io_status> wait(tcp::socket::wait_type type);
  // One non-blocking read: its result, or that it would block and on what.
  struct read_attempt {
    read_result result;
    bool would_block;
    tcp::socket::wait_type wait;
  };
  read_attempt try_read(char* data, std::size_t size);
  // Reads once into `data`, waiting as needed (first, if `wait_first`: a read has just found
  // nothing); appends what arrived to `*append_to` if given.
  asio::awaitable<read_result> read_loop(char* data, std::size_t size, milliseconds timeout,
                                         std::string* append_to, bool wait_first = false);
  // One non-blocking write of the front of `part`; would_block when it must wait (on what: `wait`).
  struct write_attempt {
    io_status status;
    bool would_block;
    tcp::socket::wait_type wait;
  };
  write_attempt try_write(std::string_view& part);
  io_status map_error(const boost::system::error_code& ec) const;

  tcp::socket socket_;
  ssl_ptr ssl_;
  asio::steady_timer timer_;
  clock::time_point read_deadline_ = clock::time_point::max();
  clock::time_point write_deadline_ = clock::time_point::max();
  clock::time_point timer_expiry_ = clock::time_point::max();
  clock::time_point idle_since_{};
  std::uint64_t timer_generation_ = 0;
  std::uint64_t rtt_us_ = 0;
  std::function<void(io_status)> on_readable_;
  // A read wait() parked behind the queued peek receive (see wait()): resumed when it completes.
  std::function<void(io_status)> peek_waiter_;
  std::uint32_t address_index_ = 0;
  bool timer_pending_ = false;
  bool timed_out_ = false;
  bool cancelled_ = false;
  bool ended_by_reset_ = false;
  bool peek_queued_ = false;
  tcp::socket::wait_type blocked_on_ = tcp::socket::wait_read;  // what read_now last would block on
  char peek_byte_ = 0;
  bool plain_http_ = false;
};

}  // namespace sovgw::gateway
