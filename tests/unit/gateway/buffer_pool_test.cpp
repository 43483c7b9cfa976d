#include "gateway/buffer_pool.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace sovgw::gateway;

TEST_CASE("buffer pool: a buffer handed back is handed out again, empty, with its memory") {
  const char* memory = nullptr;
  {
    pooled_buffer a;
    a->assign(3000, 'x');
    memory = a->data();
  }
  pooled_buffer b;
  CHECK(b->empty());
  CHECK(b->capacity() >= 3000);
  CHECK(b->data() == memory);
}

TEST_CASE("buffer pool: a large buffer is freed, not kept, and a buffer with memory keeps its own") {
  {
    pooled_buffer big;
    big->assign(64 * 1024, 'x');
  }
  pooled_buffer next;
  CHECK(next->capacity() < 64 * 1024);

  std::string own;
  own.reserve(500);
  const char* memory = own.data();
  take_spare(own);  // it has memory: left as it is
  CHECK(own.data() == memory);

  std::string handed(2000, 'y');
  give_spare(handed);
  CHECK(handed.empty());
  std::string taken;
  take_spare(taken);
  CHECK(taken.empty());
  CHECK(taken.capacity() >= 2000);
}

TEST_CASE("buffer pool: a thread keeps a bounded number of spares") {
  std::string many[100];
  for (std::string& s : many) {
    s.assign(1000, 'z');
  }
  for (std::string& s : many) {
    give_spare(s);
  }
  int with_memory = 0;
  for (int i = 0; i < 100; ++i) {
    std::string s;
    take_spare(s);
    with_memory += s.capacity() >= 1000 ? 1 : 0;
  }
  CHECK(with_memory > 0);
  CHECK(with_memory <= 32);
}
