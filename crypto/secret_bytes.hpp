#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace sovgw::crypto {

// Initialises libsodium once (thread-safe, idempotent). Throws std::runtime_error if it cannot.
void ensure_sodium();

// Owning buffer for secret material: wiped with sodium_memzero when destroyed or reassigned.
// Movable, not copyable (copies of secrets are explicit through `clone()`). Not thread-safe.
class secret_bytes {
 public:
  secret_bytes() = default;
  explicit secret_bytes(std::size_t size) : bytes_(size) {}
  explicit secret_bytes(std::span<const std::uint8_t> bytes) : bytes_(bytes.begin(), bytes.end()) {}
  ~secret_bytes() { wipe(); }
  secret_bytes(secret_bytes&& other) noexcept : bytes_(std::move(other.bytes_)) { other.bytes_.clear(); }
  secret_bytes& operator=(secret_bytes&& other) noexcept;
  secret_bytes(const secret_bytes&) = delete;
  secret_bytes& operator=(const secret_bytes&) = delete;

  [[nodiscard]] secret_bytes clone() const { return secret_bytes(std::span(bytes_)); }
  [[nodiscard]] std::uint8_t* data() { return bytes_.data(); }
  [[nodiscard]] const std::uint8_t* data() const { return bytes_.data(); }
  [[nodiscard]] std::size_t size() const { return bytes_.size(); }
  [[nodiscard]] bool empty() const { return bytes_.empty(); }
  [[nodiscard]] std::span<const std::uint8_t> view() const { return bytes_; }
  [[nodiscard]] std::span<std::uint8_t> mutable_view() { return bytes_; }

  // Zeroes and empties the buffer.
  void wipe();

 private:
  std::vector<std::uint8_t> bytes_;
};

// Wipes any buffer (e.g. a std::string that briefly held a secret).
void wipe(std::span<std::uint8_t> bytes);
void wipe(std::string& text);

// Fills `out` with cryptographically secure random bytes.
void random_bytes(std::span<std::uint8_t> out);

}  // namespace sovgw::crypto
