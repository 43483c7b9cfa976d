#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "crypto/aead.hpp"
#include "crypto/base64.hpp"
#include "crypto/blake2b.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/hex.hpp"
#include "crypto/key_file.hpp"
#include "crypto/sealed_box.hpp"

namespace c = sovgw::crypto;

namespace {

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

struct temp_dir {
  std::string path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sovgw-crypto-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("base64 round-trips and rejects malformed input") {
  CHECK(c::to_base64(bytes("foobar")) == "Zm9vYmFy");
  CHECK(c::to_base64(bytes("fo")) == "Zm8=");
  auto back = c::from_base64("Zm8=");
  REQUIRE(back);
  CHECK(std::string(back->begin(), back->end()) == "fo");
  CHECK_FALSE(c::from_base64("Zm8"));
  CHECK(c::to_base64({}).empty());
  REQUIRE(c::from_base64(""));
  CHECK(c::from_base64("")->empty());
  CHECK_FALSE(c::from_base64("Zm8*"));
  CHECK_FALSE(c::from_base64("Zm9v YmFy"));
}

TEST_CASE("XChaCha20-Poly1305 binds the associated data") {
  const auto key = c::aead_generate_key();
  const auto box = c::aead_seal(key, bytes("prompt text"), bytes("leaf metadata"));
  CHECK(box.size() == c::aead_nonce_size + 11 + c::aead_tag_size);
  auto plain = c::aead_open(key, box, bytes("leaf metadata"));
  REQUIRE(plain);
  CHECK(std::string(plain->data(), plain->data() + plain->size()) == "prompt text");
  CHECK_FALSE(c::aead_open(key, box, bytes("other metadata")));
  CHECK_FALSE(c::aead_open(c::aead_generate_key(), box, bytes("leaf metadata")));
  auto tampered = box;
  tampered[30] ^= 1;
  CHECK_FALSE(c::aead_open(key, tampered, bytes("leaf metadata")));
  CHECK_FALSE(c::aead_open(key, std::span(box).first(20), bytes("leaf metadata")));
  // Random nonces: two seals of the same message differ.
  CHECK(c::aead_seal(key, bytes("x"), {}) != c::aead_seal(key, bytes("x"), {}));
}

TEST_CASE("AEAD nonces never repeat: across pool refills, threads and fork") {
  const auto key = c::aead_generate_key();
  const auto nonce_of = [&] {
    const auto box = c::aead_seal(key, bytes("x"), {});
    return std::vector<std::uint8_t>(box.begin(), box.begin() + c::aead_nonce_size);
  };
  std::set<std::vector<std::uint8_t>> seen;
  for (int i = 0; i < 1000; ++i) {  // several refills of the per-thread pool
    CHECK(seen.insert(nonce_of()).second);
  }
  std::vector<std::uint8_t> other_thread;
  std::thread([&] { other_thread = nonce_of(); }).join();
  CHECK(seen.insert(other_thread).second);

  // A forked child must not hand out the nonces its parent has buffered.
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const auto n = nonce_of();
    (void)!::write(pipe_fds[1], n.data(), n.size());
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::vector<std::uint8_t> from_child(c::aead_nonce_size);
  CHECK(::read(pipe_fds[0], from_child.data(), from_child.size()) == static_cast<ssize_t>(from_child.size()));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(seen.insert(nonce_of()).second);
  CHECK(seen.insert(from_child).second);
}

TEST_CASE("sealed boxes open only with the matching secret key") {
  auto pair = c::box_generate_key_pair();
  CHECK(c::box_public_from_secret(pair.secret_key) == pair.public_key);
  const auto sealed = c::box_seal(pair.public_key, bytes("data key"));
  auto opened = c::box_open(pair.public_key, pair.secret_key, sealed);
  REQUIRE(opened);
  CHECK(std::string(opened->data(), opened->data() + opened->size()) == "data key");
  auto other = c::box_generate_key_pair();
  CHECK_FALSE(c::box_open(other.public_key, other.secret_key, sealed));
  CHECK_FALSE(c::box_open(pair.public_key, pair.secret_key, std::span(sealed).first(10)));
}

TEST_CASE("Ed25519 signs and verifies; RFC 8032 test 1") {
  // RFC 8032 section 7.1, TEST 1 (empty message).
  auto seed = c::from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  auto pk = c::from_hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  REQUIRE(seed);
  REQUIRE(pk);
  c::secret_bytes sk(64);
  std::copy(seed->begin(), seed->end(), sk.data());
  std::copy(pk->begin(), pk->end(), sk.data() + 32);
  const auto sig = c::ed25519_sign(sk, {});
  CHECK(c::to_hex(sig) ==
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25b"
        "f5f0595bbe"
        "24655141438e7a100b");
  const auto pub = c::ed25519_public_from_secret(sk);
  CHECK(c::to_hex(pub) == c::to_hex(*pk));
  CHECK(c::ed25519_verify(pub, {}, sig));
  CHECK_FALSE(c::ed25519_verify(pub, bytes("x"), sig));
  CHECK_FALSE(c::ed25519_verify(pub, {}, std::span(sig).first(63)));
}

TEST_CASE("BLAKE2b: known answer, keyed mode, size checks") {
  // BLAKE2b-512("abc") from RFC 7693 appendix A.
  CHECK(c::to_hex(c::blake2b(bytes("abc"), 64)) ==
        "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d3"
        "8aa8dbf1"
        "925ab92386edd4009923");
  const std::string key(32, 'k');
  CHECK(c::blake2b(bytes("10.0.0.1"), 16, bytes(key)) != c::blake2b(bytes("10.0.0.1"), 16));
  CHECK_THROWS_AS((void)c::blake2b(bytes("x"), 8), std::invalid_argument);
  CHECK_THROWS_AS((void)c::blake2b(bytes("x"), 32, bytes("short")), std::invalid_argument);
}

TEST_CASE("secret key files: 0600 on creation, refused when group/world accessible or of the wrong kind") {
  temp_dir dir;
  const std::string path = dir.path + "/k.key";
  auto key = c::aead_generate_key();
  c::write_secret_key_file(path, "test-kind", key);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto back = c::read_secret_key_file(path, "test-kind");
  CHECK(std::equal(back.view().begin(), back.view().end(), key.view().begin(), key.view().end()));
  CHECK_THROWS_AS(c::write_secret_key_file(path, "test-kind", key), c::key_file_error);
  CHECK_THROWS_WITH_AS((void)c::read_secret_key_file(path, "other-kind"), doctest::Contains("different kind"),
                       c::key_file_error);
  REQUIRE(::chmod(path.c_str(), 0640) == 0);
  CHECK_THROWS_WITH_AS((void)c::read_secret_key_file(path, "test-kind"), doctest::Contains("chmod 600"),
                       c::key_file_error);
  REQUIRE(::chmod(path.c_str(), 0604) == 0);
  CHECK_THROWS_AS((void)c::read_secret_key_file(path, "test-kind"), c::key_file_error);
  CHECK_THROWS_WITH_AS((void)c::read_secret_key_file(dir.path + "/missing.key", "test-kind"),
                       doctest::Contains("missing.key"), c::key_file_error);
  c::write_public_file(dir.path + "/p.pub", "garbage\n");
  REQUIRE(::chmod((dir.path + "/p.pub").c_str(), 0600) == 0);
  CHECK_THROWS_WITH_AS((void)c::read_secret_key_file(dir.path + "/p.pub", "test-kind"),
                       doctest::Contains("not a sovgw secret key"), c::key_file_error);
}

TEST_CASE("secret_bytes wipes on demand and on move") {
  c::secret_bytes s(bytes("secret"));
  c::secret_bytes t = std::move(s);
  CHECK(s.empty());
  CHECK(t.size() == 6);
  t.wipe();
  CHECK(t.empty());
}
