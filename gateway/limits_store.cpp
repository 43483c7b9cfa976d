#include "gateway/limits_store.hpp"

#include <fmt/format.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>

#include "gateway/log.hpp"

namespace sovgw::gateway {

namespace asio = boost::asio;

namespace {

// Raises each key to the total the instance last read for it (a Redis that lost its data starts
// again from what was known spent, not from zero), adds its delta (with the window's TTL) and
// returns every key's total; a delta of zero only reads. One round trip and one atomic step for
// all tenants. ARGV: delta, TTL and floor per key. A key that holds no count (a string that is not
// a whole number, a hash, a list: written by hand, or by anything else with access to the
// database) is one scope's problem, not the store's: it is replaced by the floor and its name
// returned after the totals, for the gateway to say (probe round 39: one such key failed the
// whole script, and every instance took the store for unreachable and refused every budget).
constexpr std::string_view sync_script = R"lua(
local r = {}
local repaired = {}
for i, k in ipairs(KEYS) do
  local d = tonumber(ARGV[3 * i - 2])
  local ttl = ARGV[3 * i - 1]
  local floor = ARGV[3 * i]
  local v = redis.pcall('GET', k)
  local cur = 0
  if type(v) == 'string' and string.match(v, '^%d+$') and #v <= 18 then
    cur = tonumber(v)
  elseif v then
    redis.call('DEL', k)
    repaired[#repaired + 1] = k
  end
  if cur < tonumber(floor) then
    redis.call('SET', k, floor, 'EX', ttl)
    cur = tonumber(floor)
  end
  if d > 0 then
    r[i] = redis.call('INCRBY', k, d)
    redis.call('EXPIRE', k, ttl)
  else
    r[i] = cur
  end
end
for _, k in ipairs(repaired) do
  r[#r + 1] = k
end
return r
)lua";

// What Redis may send back (hiredis 0.14 sets no bound: a server that answers with a 50-million
// element array makes it allocate them all): an array at most the items of the round in flight
// (the reply holds one total per item; 1 outside a round), a string at most 64 KiB (an error
// message), and at most 1 MiB waiting unparsed in the reader. Beyond, the reply is refused as
// hiredis refuses one it has no memory for, and the connection is lost.
constexpr std::size_t max_reply_string = 64 * 1024;
constexpr std::size_t max_unparsed = 1024 * 1024;
const redisReplyObjectFunctions* hiredis_functions = nullptr;  // hiredis's own, wrapped below

redisReplyObjectFunctions bounded_functions() {
  redisReplyObjectFunctions f = *hiredis_functions;
  f.createArray = [](const redisReadTask* task, int elements) -> void* {
    const auto* limit = static_cast<const std::size_t*>(task->privdata);
    if (elements < 0 || static_cast<std::size_t>(elements) > *limit) {
      return nullptr;
    }
    return hiredis_functions->createArray(task, elements);
  };
  f.createString = [](const redisReadTask* task, char* str, size_t len) -> void* {
    return len > max_reply_string ? nullptr : hiredis_functions->createString(task, str, len);
  };
  return f;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// hiredis's event hooks on an Asio stream_descriptor. hiredis owns the socket (it closes it), so
// the descriptor is released, never closed, at cleanup. Kept alive by itself until cleanup and by
// each pending wait, so a wait that completes after cleanup finds `alive` false and does nothing.
struct limits_store::events : std::enable_shared_from_this<events> {
  events(asio::io_context& ioc, redisAsyncContext* c) : descriptor(ioc, c->c.fd), ac(c) {}

  asio::posix::stream_descriptor descriptor;
  redisAsyncContext* ac;
  bool alive = true;
  bool want[2] = {false, false};  // read, write
  bool armed[2] = {false, false};
  std::shared_ptr<events> self;

  void arm(int dir) {
    if (armed[dir] || !alive) {
      return;
    }
    armed[dir] = true;
    const auto what =
        dir == 0 ? asio::posix::descriptor_base::wait_read : asio::posix::descriptor_base::wait_write;
    descriptor.async_wait(what, [e = shared_from_this(), dir](const boost::system::error_code& ec) {
      e->armed[dir] = false;
      if (ec || !e->alive || !e->want[dir]) {
        return;
      }
      if (dir == 0) {
        redisAsyncHandleRead(e->ac);
        if (e->alive && e->ac->c.reader != nullptr &&
            e->ac->c.reader->len - e->ac->c.reader->pos > max_unparsed) {
          static_cast<limits_store*>(e->ac->data)->lost("a reply larger than any sync reply");
          return;
        }
      } else {
        redisAsyncHandleWrite(e->ac);
      }
      if (e->alive && e->want[dir]) {
        e->arm(dir);
      }
    });
  }

  static events& of(void* p) { return *static_cast<events*>(p); }

  static void attach(asio::io_context& ioc, redisAsyncContext* ac) {
    auto e = std::make_shared<events>(ioc, ac);
    e->self = e;
    ac->ev.data = e.get();
    ac->ev.addRead = [](void* p) {
      of(p).want[0] = true;
      of(p).arm(0);
    };
    ac->ev.delRead = [](void* p) { of(p).want[0] = false; };
    ac->ev.addWrite = [](void* p) {
      of(p).want[1] = true;
      of(p).arm(1);
    };
    ac->ev.delWrite = [](void* p) { of(p).want[1] = false; };
    ac->ev.cleanup = [](void* p) {
      events& ev = of(p);
      ev.alive = false;
      (void)ev.descriptor.release();  // cancels the waits; hiredis closes the socket
      const std::shared_ptr<events> last = std::move(ev.self);
    };
  }
};

limits_store::limits_store(const config::limits_store_config& cfg, tenants::limiter& lim)
    : cfg_(cfg), limiter_(lim) {}

limits_store::~limits_store() { stop(); }

void limits_store::start() {
  asio::post(ioc_, [this] {
    connect();
    tick();
  });
  thread_ = std::thread([this] { ioc_.run(); });
}

void limits_store::stop() {
  if (!thread_.joinable()) {
    return;
  }
  asio::post(ioc_, [this] {
    stopping_ = true;
    tick_timer_.cancel();
    reconnect_timer_.cancel();
    if (redisAsyncContext* ac = std::exchange(ac_, nullptr)) {
      redisAsyncFree(ac);
    }
  });
  thread_.join();
}

void limits_store::connect() {
  if (stopping_) {
    return;
  }
  redisAsyncContext* ac = redisAsyncConnect(cfg_.host.c_str(), cfg_.port);
  if (ac == nullptr) {
    lost("out of memory");
    return;
  }
  if (ac->err != 0) {
    const std::string why = ac->errstr;
    redisAsyncFree(ac);
    lost(why);
    return;
  }
  ac_ = ac;
  ac->data = this;
  if (hiredis_functions == nullptr) {
    hiredis_functions = ac->c.reader->fn;
  }
  static redisReplyObjectFunctions bounded = bounded_functions();
  ac->c.reader->fn = &bounded;
  ac->c.reader->privdata = &max_reply_elements_;
  events::attach(ioc_, ac);
  redisAsyncSetDisconnectCallback(ac, &limits_store::on_disconnect);
  redisAsyncSetConnectCallback(ac, &limits_store::on_connect);  // after attach: it adds a write wait
}

void limits_store::on_connect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<limits_store*>(ac->data);
  if (status != REDIS_OK) {
    if (self->ac_ == ac) {
      self->ac_ = nullptr;  // hiredis frees it
      self->lost(ac->errstr);
    }
    return;
  }
  self->connected_ = true;
  self->last_full_ = {};
  const std::string db = std::to_string(self->cfg_.db);
  const char* argv[] = {"SELECT", db.c_str()};
  const std::size_t lens[] = {6, db.size()};
  redisAsyncCommandArgv(
      self->ac_,
      [](redisAsyncContext* c, void* r, void*) {
        const auto* reply = static_cast<const redisReply*>(r);
        auto* s = static_cast<limits_store*>(c->data);
        if (reply != nullptr && reply->type == REDIS_REPLY_ERROR && s->ac_ == c) {
          s->lost(fmt::format("SELECT: {}", std::string_view(reply->str, reply->len)), true);
        }
      },
      nullptr, 2, argv, lens);
  self->send_round();  // learn the totals at once
}

void limits_store::on_disconnect(const redisAsyncContext* ac, int) {
  auto* self = static_cast<limits_store*>(ac->data);
  if (self->ac_ == ac) {
    self->ac_ = nullptr;  // hiredis frees it
    self->lost(ac->errstr != nullptr && ac->errstr[0] != '\0' ? ac->errstr : "connection closed");
  }
}

void limits_store::tick() {
  if (stopping_) {
    return;
  }
  if (ac_ != nullptr && connected_) {
    const auto timeout =
        std::max<std::chrono::milliseconds>(std::chrono::seconds(1), 10 * cfg_.sync_interval);
    if (!in_flight_) {
      send_round();
    } else if (std::chrono::steady_clock::now() - round_started_ > timeout) {
      lost(fmt::format("no answer within {} ms", timeout.count()));
    }
  }
  tick_timer_.expires_after(cfg_.sync_interval);
  tick_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) {
      tick();
    }
  });
}

void limits_store::send_round() {
  if (in_flight_ || ac_ == nullptr) {
    return;
  }
  // Tenants busy here sync every round; all of them once a second (and first after a connect).
  const auto now = std::chrono::steady_clock::now();
  const bool all = now - last_full_ >= std::chrono::seconds(1);
  if (all) {
    last_full_ = now;
  }
  in_flight_ = limiter_.begin_sync(now_ms(), all);
  const std::vector<tenants::sync_item>& items = in_flight_->items();
  std::vector<std::string> numbers;
  numbers.reserve(1 + 3 * items.size());
  numbers.push_back(std::to_string(items.size()));
  for (const tenants::sync_item& item : items) {
    numbers.push_back(std::to_string(item.delta));
    numbers.push_back(std::to_string(item.ttl_s));
    numbers.push_back(std::to_string(item.floor));
  }
  std::vector<const char*> argv{"EVAL", sync_script.data(), numbers[0].c_str()};
  std::vector<std::size_t> lens{4, sync_script.size(), numbers[0].size()};
  for (const tenants::sync_item& item : items) {
    argv.push_back(item.key.c_str());
    lens.push_back(item.key.size());
  }
  for (std::size_t i = 1; i < numbers.size(); ++i) {
    argv.push_back(numbers[i].c_str());
    lens.push_back(numbers[i].size());
  }
  round_started_ = std::chrono::steady_clock::now();
  max_reply_elements_ = std::max<std::size_t>(1, 2 * items.size());  // the totals, and keys repaired
  const int rc = redisAsyncCommandArgv(
      ac_, [](redisAsyncContext* c, void* r, void*) { static_cast<limits_store*>(c->data)->on_reply(r); },
      nullptr, static_cast<int>(argv.size()), argv.data(), lens.data());
  if (rc != REDIS_OK) {
    lost("cannot send the sync command");
  }
}

void limits_store::on_reply(void* r) {
  if (!in_flight_) {
    return;
  }
  const tenants::limiter::sync_batch batch = std::move(*in_flight_);
  in_flight_.reset();
  const auto* reply = static_cast<const redisReply*>(r);
  if (reply == nullptr) {  // the connection went away; its own callback says so
    limiter_.abort_sync(batch);
    return;
  }
  std::vector<std::uint64_t> totals;
  const std::size_t n = batch.items().size();
  bool ok = reply->type == REDIS_REPLY_ARRAY && reply->elements >= n && reply->elements <= 2 * n;
  for (std::size_t i = 0; ok && i < n; ++i) {
    const redisReply* e = reply->element[i];
    ok = e->type == REDIS_REPLY_INTEGER && e->integer >= 0;
    totals.push_back(ok ? static_cast<std::uint64_t>(e->integer) : 0);
  }
  for (std::size_t i = n; ok && i < reply->elements; ++i) {
    ok = reply->element[i]->type == REDIS_REPLY_STRING;
  }
  if (!ok) {
    limiter_.abort_sync(batch);
    if (reply->type == REDIS_REPLY_ERROR) {
      // Redis is there and refused the sync (out of memory, a read-only replica, a script
      // error): not "unreachable", which sends an operator looking for a network problem.
      lost(std::string(reply->str, reply->len), true);
    } else {
      lost("unexpected reply to the sync", true);
    }
    return;
  }
  for (std::size_t i = n; i < reply->elements; ++i) {
    repaired_.fetch_add(1, std::memory_order_relaxed);
    log_line("warn", "limits store key held no count: overwritten with the total this instance knew")
        .str("key", std::string_view(reply->element[i]->str, reply->element[i]->len))
        .str("store", fmt::format("redis://{}:{}/{}", cfg_.host, cfg_.port, cfg_.db))
        .emit();
  }
  limiter_.end_sync(batch, totals);
  backoff_ = std::chrono::milliseconds(100);
  set_up(true, "");
}

void limits_store::lost(std::string_view why, bool answered) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  answered_ = answered;
  connected_ = false;
  if (redisAsyncContext* ac = std::exchange(ac_, nullptr)) {
    redisAsyncFree(ac);  // calls on_reply with no reply for a round in flight
  }
  if (in_flight_) {
    limiter_.abort_sync(*in_flight_);
    in_flight_.reset();
  }
  set_up(false, why);
  schedule_reconnect();
}

void limits_store::schedule_reconnect() {
  if (stopping_) {
    return;
  }
  reconnect_timer_.expires_after(backoff_);
  backoff_ = std::min<std::chrono::milliseconds>(std::chrono::seconds(2), 2 * backoff_);
  reconnect_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) {
      connect();
    }
  });
}

void limits_store::set_up(bool up, std::string_view why) {
  limiter_.set_store_up(up);
  up_.store(up, std::memory_order_relaxed);
  if (logged_ && *logged_ == up) {
    return;
  }
  logged_ = up;
  const std::string address = fmt::format("redis://{}:{}/{}", cfg_.host, cfg_.port, cfg_.db);
  if (up) {
    log_line("info", "limits store reachable: limits are shared").str("store", address).emit();
  } else {
    log_line("warn", answered_ ? "limits store answered the sync with an error: limits are counted locally "
                                 "until a sync succeeds"
                               : "limits store unreachable: limits are counted locally until it is back")
        .str("store", address)
        .str("error", why)
        .str("monthly_budgets", cfg_.budgets_open ? "counted locally (limits_store_outage: open)"
                                                  : "refused (limits_store_outage: closed)")
        .emit();
  }
}

void limits_store::render(std::string& out) const {
  fmt::format_to(std::back_inserter(out),
                 "# HELP sovgw_limits_store_up Whether the last sync with the limits store succeeded.\n"
                 "# TYPE sovgw_limits_store_up gauge\nsovgw_limits_store_up {}\n"
                 "# HELP sovgw_limits_store_errors_total Failed connects, lost connections, error replies "
                 "and unanswered syncs.\n# TYPE sovgw_limits_store_errors_total counter\n"
                 "sovgw_limits_store_errors_total {}\n"
                 "# HELP sovgw_limits_store_syncs_total Syncs with the limits store answered.\n"
                 "# TYPE sovgw_limits_store_syncs_total counter\nsovgw_limits_store_syncs_total {}\n"
                 "# HELP sovgw_limits_store_repaired_keys_total Keys of the limits store that held no count "
                 "(not a whole number, or not a string), overwritten with the total known.\n"
                 "# TYPE sovgw_limits_store_repaired_keys_total counter\n"
                 "sovgw_limits_store_repaired_keys_total {}\n",
                 up_.load(std::memory_order_relaxed) ? 1 : 0, errors_.load(std::memory_order_relaxed),
                 limiter_.syncs(), repaired_.load(std::memory_order_relaxed));
}

}  // namespace sovgw::gateway
