#include "gateway/connection.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstdint>
#include <stdexcept>

namespace sovgw::gateway {

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// SSL_get_error() reads the thread's error queue, so it must be empty before each TLS call. It
// nearly always is: ERR_clear_error() on an empty queue still walks its sixteen slots (about 3,000
// instructions per proxied request, four calls), peeking costs a fraction of that.
void clear_tls_errors() {
  if (ERR_peek_error() != 0) {
    ERR_clear_error();
  }
}

// OpenSSL's own socket BIO, less what the gateway never uses (kernel TLS, closing the descriptor:
// Asio owns it). libssl calls BIO_ctrl about 27 times a proxied request (flush, kernel-TLS
// queries, end of file); the socket BIO's ctrl cost ~1,000 instructions of those per request.
int fd_of(BIO* b) { return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b))); }

bool should_retry(ssize_t n) { return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR); }

int socket_bio_read(BIO* b, char* out, int size) {
  errno = 0;
  const ssize_t n = ::read(fd_of(b), out, static_cast<std::size_t>(size));
  BIO_clear_retry_flags(b);
  if (n <= 0) {
    if (should_retry(n)) {
      BIO_set_retry_read(b);
    } else if (n == 0) {
      BIO_set_flags(b, BIO_FLAGS_IN_EOF);
    }
  }
  return static_cast<int>(n);
}

int socket_bio_write(BIO* b, const char* in, int size) {
  errno = 0;
  const ssize_t n = ::send(fd_of(b), in, static_cast<std::size_t>(size), MSG_NOSIGNAL);
  BIO_clear_retry_flags(b);
  if (should_retry(n)) {
    BIO_set_retry_write(b);
  }
  return static_cast<int>(n);
}

long socket_bio_ctrl(BIO* b, int cmd, long, void* ptr) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
    case BIO_CTRL_DUP:
      return 1;
    case BIO_CTRL_EOF:
      return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0 ? 1 : 0;
    case BIO_C_GET_FD:
      if (ptr != nullptr) {
        *static_cast<int*>(ptr) = fd_of(b);
      }
      return fd_of(b);
    case BIO_CTRL_GET_CLOSE:
      return BIO_NOCLOSE;
    default:
      return 0;  // kernel TLS and everything else: not supported
  }
}

const BIO_METHOD* socket_bio_method() {
  static const BIO_METHOD* method = [] {
    BIO_METHOD* m =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "sovgw socket");
    if (m == nullptr || BIO_meth_set_write(m, socket_bio_write) != 1 ||
        BIO_meth_set_read(m, socket_bio_read) != 1 || BIO_meth_set_ctrl(m, socket_bio_ctrl) != 1) {
      throw std::runtime_error("cannot create the TLS socket BIO method");
    }
    return m;
  }();
  return method;
}
}  // namespace

std::string_view to_string(io_status s) {
  switch (s) {
    case io_status::ok:
      return "ok";
    case io_status::eof:
      return "eof";
    case io_status::timeout:
      return "timeout";
    case io_status::cancelled:
      return "cancelled";
    case io_status::error:
      return "error";
  }
  return "error";
}

connection::connection(tcp::socket socket, ssl_ptr ssl)
    : socket_(std::move(socket)), ssl_(std::move(ssl)), timer_(socket_.get_executor()) {
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  socket_.set_option(tcp::no_delay(true), ec);
  if (ssl_) {
    BIO* bio = BIO_new(socket_bio_method());
    if (bio == nullptr) {
      throw std::runtime_error("cannot allocate a TLS socket BIO");
    }
    BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(socket_.native_handle())));
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl_.get(), bio, bio);  // one reference, shared by both directions
  }
}

connection::~connection() { close(); }

void connection::set_deadline(clock::time_point& which, milliseconds timeout) {
  timed_out_ = false;  // a new operation: an earlier timeout (already reported) does not poison it
  if (timeout.count() <= 0) {
    which = clock::time_point::max();
    return;
  }
  which = clock::now() + timeout;
  arm_timer();
}

void connection::arm_timer() {
  clock::time_point next = std::min(read_deadline_, write_deadline_);
  if (next == clock::time_point::max() || (timer_pending_ && timer_expiry_ <= next)) {
    return;  // nothing to watch, or the pending timer fires first and re-arms then
  }
  timer_expiry_ = next;
  timer_pending_ = true;
  std::uint64_t generation = ++timer_generation_;
  timer_.expires_at(next);
  timer_.async_wait([self = shared_from_this(), generation](const boost::system::error_code&) {
    self->on_timer(generation);
  });
}

void connection::on_timer(std::uint64_t generation) {
  if (generation != timer_generation_) {
    return;  // superseded by a re-arm
  }
  timer_pending_ = false;
  timer_expiry_ = clock::time_point::max();
  if (!socket_.is_open()) {
    return;
  }
  clock::time_point now = clock::now();
  if (read_deadline_ <= now || write_deadline_ <= now) {
    timed_out_ = true;
    boost::system::error_code ec;
    socket_.cancel(ec);
    return;
  }
  arm_timer();
}

io_status connection::map_error(const boost::system::error_code& ec) const {
  if (ec == asio::error::operation_aborted) {
    return timed_out_ ? io_status::timeout : io_status::cancelled;
  }
  if (ec == asio::error::eof || ec == asio::error::connection_reset) {
    return io_status::eof;
  }
  return io_status::error;
}

asio::awaitable<io_status> connection::wait(tcp::socket::wait_type type) {
  if (timed_out_) {
    co_return io_status::timeout;
  }
  if (cancelled_ || !socket_.is_open()) {
    co_return io_status::cancelled;
  }
  if (type == tcp::socket::wait_read && peek_queued_) {
    // A peek receive that on_readable queued (the watch on a client while its request was at the
    // cluster) is still ahead of any read wait on this socket. When the peer ends the stream or
    // resets, asio completes that receive and ends its round there ("exhausted"), leaving a wait
    // behind it unwoken until an edge that never comes: a pipelined request's partial head then
    // waited out request_header after the client had gone (probe round 28). Wait on that receive.
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(io_status)>(
        [this](auto handler) {
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          peek_waiter_ = [shared](io_status s) { (*shared)(s); };
        },
        asio::use_awaitable);
  }
  auto [ec] = co_await socket_.async_wait(type, nothrow);
  if (ec) {
    co_return map_error(ec);
  }
  co_return io_status::ok;
}

asio::awaitable<io_status> connection::handshake(milliseconds timeout, std::string& detail) {
  if (!ssl_) {
    co_return io_status::ok;
  }
  set_deadline(read_deadline_, timeout);
  io_status result = io_status::ok;
  while (true) {
    clear_tls_errors();
    int r = SSL_do_handshake(ssl_.get());
    if (r == 1) {
      break;
    }
    int err = SSL_get_error(ssl_.get(), r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      result = co_await wait(err == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write);
      if (result != io_status::ok) {
        detail = std::string(to_string(result));
        break;
      }
      continue;
    }
    unsigned long e = ERR_peek_last_error();
    plain_http_ = e != 0 && ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST;
    if (e != 0) {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      detail = buf;
      long verify = SSL_get_verify_result(ssl_.get());
      if (verify != X509_V_OK) {
        detail += std::string(" (certificate verification: ") + X509_verify_cert_error_string(verify) + ")";
      }
    } else {
      detail =
          err == SSL_ERROR_SYSCALL ? "connection closed during the TLS handshake" : "TLS handshake failed";
    }
    clear_tls_errors();
    result = io_status::error;
    break;
  }
  clear_deadline(read_deadline_);
  co_return result;
}

void connection::answer_plain_http() {
  static constexpr std::string_view body =
      "{\"error\":{\"message\":\"this port speaks HTTPS: the request was sent as plain HTTP; use "
      "https://"
      "\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"plain_http_to_https_port\"}}\n";
  const std::string answer =
      "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + std::string(body);
  (void)::send(socket_.native_handle(), answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

connection::read_attempt connection::try_read(char* data, std::size_t size) {
  if (!ssl_) {
    boost::system::error_code ec;
    std::size_t n = socket_.read_some(asio::buffer(data, size), ec);
    if (!ec) {
      return {read_result{io_status::ok, n}, false, tcp::socket::wait_read};
    }
    if (ec == asio::error::would_block) {
      return {read_result{io_status::ok, 0}, true, tcp::socket::wait_read};
    }
    ended_by_reset_ = ended_by_reset_ || ec == asio::error::connection_reset;
    return {read_result{map_error(ec), 0}, false, tcp::socket::wait_read};
  }
  clear_tls_errors();
  std::size_t n = 0;
  int r = SSL_read_ex(ssl_.get(), data, size, &n);
  if (r == 1) {
    return {read_result{io_status::ok, n}, false, tcp::socket::wait_read};
  }
  int err = SSL_get_error(ssl_.get(), r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    return {read_result{io_status::ok, 0}, true,
            err == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write};
  }
  clear_tls_errors();
  // ZERO_RETURN is a clean close_notify; SYSCALL with no error queue is a reset or an unclean EOF
  // (OpenSSL 3 reports a close without close_notify as SSL_ERROR_SSL, an error).
  const bool eof = err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL;
  ended_by_reset_ = ended_by_reset_ || err == SSL_ERROR_SYSCALL;
  return {read_result{eof ? io_status::eof : io_status::error, 0}, false, tcp::socket::wait_read};
}

asio::awaitable<connection::read_result> connection::read_some(char* data, std::size_t size,
                                                               milliseconds timeout) {
  return read_loop(data, size, timeout, nullptr);
}

namespace {
// Reads land in a per-thread scratch area and what arrived is appended: growing the string first
// would zero-fill max_chunk bytes on every read (it was a quarter of all instructions per request).
char* read_scratch(std::size_t& max_chunk) {
  static thread_local char scratch[64 * 1024];
  max_chunk = std::min(max_chunk, sizeof scratch);
  return scratch;
}
}  // namespace

asio::awaitable<connection::read_result> connection::read_into(std::string& buffer, std::size_t max_chunk,
                                                               milliseconds timeout) {
  char* scratch = read_scratch(max_chunk);
  return read_loop(scratch, max_chunk, timeout, &buffer);
}

asio::awaitable<connection::read_result> connection::read_into_after_block(std::string& buffer,
                                                                           std::size_t max_chunk,
                                                                           milliseconds timeout) {
  char* scratch = read_scratch(max_chunk);
  return read_loop(scratch, max_chunk, timeout, &buffer, true);
}

asio::awaitable<connection::read_result> connection::read_into_paced(std::string& buffer,
                                                                     std::size_t max_chunk,
                                                                     milliseconds timeout) {
  char* scratch = read_scratch(max_chunk);
  // Waiting re-arms the descriptor (EPOLL_CTL_MOD), which reports bytes already in the socket.
  const bool held = ssl_ && SSL_has_pending(ssl_.get());
  blocked_on_ = tcp::socket::wait_read;
  return read_loop(scratch, max_chunk, timeout, &buffer, !held);
}

bool connection::read_now(std::string& buffer, std::size_t max_chunk, read_result& out) {
  char* scratch = read_scratch(max_chunk);
  const read_attempt a = try_read(scratch, max_chunk);
  if (a.would_block) {
    blocked_on_ = a.wait;
    return false;
  }
  out = a.result;
  buffer.append(scratch, out.bytes);
  return true;
}

// read_some and read_into are not coroutines themselves: one coroutine frame per read, not two.
asio::awaitable<connection::read_result> connection::read_loop(char* data, std::size_t size,
                                                               milliseconds timeout, std::string* append_to,
                                                               bool wait_first) {
  set_deadline(read_deadline_, timeout);
  read_result result{io_status::ok, 0};
  if (wait_first) {
    result.status = co_await wait(blocked_on_);
  }
  while (result.status == io_status::ok) {
    const read_attempt a = try_read(data, size);
    if (!a.would_block) {
      result = a.result;
      break;
    }
    result.status = co_await wait(a.wait);
  }
  clear_deadline(read_deadline_);
  if (append_to != nullptr) {
    append_to->append(data, result.bytes);
  }
  co_return result;
}

connection::write_attempt connection::try_write(std::string_view& part) {
  if (!ssl_) {
    boost::system::error_code ec;
    std::size_t n = socket_.write_some(asio::buffer(part.data(), part.size()), ec);
    if (!ec) {
      part.remove_prefix(n);
      return {io_status::ok, false, tcp::socket::wait_write};
    }
    if (ec == asio::error::would_block) {
      return {io_status::ok, true, tcp::socket::wait_write};
    }
    return {map_error(ec), false, tcp::socket::wait_write};
  }
  clear_tls_errors();
  std::size_t n = 0;
  int r = SSL_write_ex(ssl_.get(), part.data(), part.size(), &n);
  if (r == 1) {
    part.remove_prefix(n);
    return {io_status::ok, false, tcp::socket::wait_write};
  }
  int err = SSL_get_error(ssl_.get(), r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    return {io_status::ok, true,
            err == SSL_ERROR_WANT_READ ? tcp::socket::wait_read : tcp::socket::wait_write};
  }
  clear_tls_errors();
  return {(err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL) ? io_status::eof : io_status::error,
          false, tcp::socket::wait_write};
}

bool connection::write_now(std::string_view& a, std::string_view& b, io_status& out) {
  for (std::string_view* part : {&a, &b}) {
    while (!part->empty()) {
      const write_attempt w = try_write(*part);
      if (w.would_block) {
        return false;
      }
      if (w.status != io_status::ok) {
        out = w.status;
        return true;
      }
    }
  }
  out = io_status::ok;
  return true;
}

asio::awaitable<io_status> connection::write(std::string_view a, std::string_view b, milliseconds timeout) {
  set_deadline(write_deadline_, timeout);
  io_status status = io_status::ok;
  for (std::string_view* part : {&a, &b}) {
    while (!part->empty() && status == io_status::ok) {
      const write_attempt w = try_write(*part);
      if (w.would_block) {
        status = co_await wait(w.wait);
      } else {
        status = w.status;
      }
    }
  }
  clear_deadline(write_deadline_);
  co_return status;
}

asio::awaitable<io_status> connection::wait_readable(milliseconds timeout) {
  // Bytes OpenSSL already holds are invisible to epoll. Bytes in the socket are not a problem: Asio
  // re-arms the descriptor (EPOLL_CTL_MOD) when it queues a readiness wait, which reports them.
  if (ssl_ && SSL_has_pending(ssl_.get())) {
    co_return io_status::ok;
  }
  // wait()'s body, inline (set_deadline has just cleared timed_out_): one coroutine frame less on
  // every request's path.
  set_deadline(read_deadline_, timeout);
  io_status s = io_status::cancelled;
  if (!cancelled_ && socket_.is_open()) {
    auto [ec] = co_await socket_.async_wait(tcp::socket::wait_read, nothrow);
    s = ec ? map_error(ec) : io_status::ok;
  }
  clear_deadline(read_deadline_);
  co_return s;
}

void connection::on_readable(milliseconds timeout, std::function<void(io_status)> done) {
  if ((ssl_ && SSL_has_pending(ssl_.get())) || !socket_.is_open() || cancelled_) {
    io_status s = socket_.is_open() && !cancelled_ ? io_status::ok : io_status::cancelled;
    asio::post(socket_.get_executor(), [done = std::move(done), s] { done(s); });
    return;
  }
  set_deadline(read_deadline_, timeout);
  on_readable_ = std::move(done);
  if (peek_queued_) {
    return;
  }
  peek_queued_ = true;
  socket_.async_receive(asio::buffer(&peek_byte_, 1), tcp::socket::message_peek,
                        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                          self->peek_queued_ = false;
                          // End of stream and a reset are readable: the read that follows reports them.
                          const bool readable =
                              !ec || ec == asio::error::eof || ec == asio::error::connection_reset;
                          if (std::function<void(io_status)> waiter = std::move(self->peek_waiter_)) {
                            self->peek_waiter_ = nullptr;
                            waiter(readable ? io_status::ok : self->map_error(ec));  // wait() behind it
                            return;
                          }
                          std::function<void(io_status)> done = std::move(self->on_readable_);
                          self->on_readable_ = nullptr;
                          if (!done) {
                            return;  // nobody is waiting: the next on_readable queues a new receive
                          }
                          self->clear_deadline(self->read_deadline_);
                          done(readable ? io_status::ok : self->map_error(ec));
                        });
}

void connection::drop_on_readable() {
  if (on_readable_) {
    on_readable_ = nullptr;
    clear_deadline(read_deadline_);
  }
}

bool connection::peer_closed_or_sent() {
  if (!socket_.is_open()) {
    return true;
  }
  if (ssl_ && SSL_has_pending(ssl_.get())) {
    return true;
  }
  char probe = 0;
  ssize_t n = ::recv(socket_.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
  return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

bool connection::peer_gone() {
  if (!socket_.is_open()) {
    return true;
  }
  char probe = 0;
  ssize_t n = ::recv(socket_.native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) {
    return true;
  }
  if (n < 0) {
    return errno != EAGAIN && errno != EWOULDBLOCK;
  }
  if (!ssl_) {
    return false;
  }
  // Something arrived over TLS: a close_notify alert means the client is gone; application data
  // (a pipelined request) means it is still there. SSL_peek tells them apart without consuming data.
  clear_tls_errors();
  std::size_t got = 0;
  int r = SSL_peek_ex(ssl_.get(), &probe, 1, &got);
  if (r == 1) {
    return false;
  }
  int err = SSL_get_error(ssl_.get(), r);
  clear_tls_errors();
  return !(err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE);
}

void connection::cancel() {
  cancelled_ = true;
  boost::system::error_code ec;
  socket_.cancel(ec);
}

void connection::close() {
  if (!socket_.is_open()) {
    return;
  }
  if (ssl_ && SSL_is_init_finished(ssl_.get())) {
    clear_tls_errors();
    SSL_shutdown(ssl_.get());  // one non-blocking attempt to send close_notify; never wait for the reply
    clear_tls_errors();
  }
  boost::system::error_code ec;
  timer_.cancel();
  socket_.close(ec);
}

asio::awaitable<void> connection::linger_close(milliseconds max_wait) {
  if (!socket_.is_open()) {
    co_return;
  }
  if (ssl_ && SSL_is_init_finished(ssl_.get())) {
    clear_tls_errors();
    SSL_shutdown(ssl_.get());
    clear_tls_errors();
  }
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  // Closing with unread bytes in the receive queue makes the kernel send RST, which can destroy the
  // error response still in flight. Drain (and drop) what the client sends until it closes, for
  // at most max_wait and 64 MiB: a client that writes a whole body before it reads the answer (Node's
  // HTTP client, the OpenAI SDK) must still read the 413 for a body over the limit.
  char sink[16384];
  std::size_t drained = 0;
  clock::time_point until = clock::now() + max_wait;
  while (drained < 64 * 1024 * 1024 && clock::now() < until) {
    std::size_t n = socket_.read_some(asio::buffer(sink), ec);
    if (!ec) {
      drained += n;
      continue;
    }
    if (ec != asio::error::would_block) {
      break;  // EOF or reset: the client has everything it will read
    }
    auto left = std::chrono::duration_cast<milliseconds>(until - clock::now());
    set_deadline(read_deadline_, std::max(left, milliseconds(1)));
    io_status s = co_await wait(tcp::socket::wait_read);
    clear_deadline(read_deadline_);
    if (s != io_status::ok) {
      break;
    }
  }
  close();
}

}  // namespace sovgw::gateway
