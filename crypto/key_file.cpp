#include "crypto/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/trusted_file.hpp"
#include "crypto/base64.hpp"

namespace sovgw::crypto {
namespace {

constexpr std::string_view secret_magic = "sovgw-secret-key-v1";
constexpr std::size_t max_file_size = 1 << 20;

void write_exclusive(const std::string& path, std::string_view data, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    throw key_file_error("cannot create " + path + ": " + std::strerror(errno) +
                         (errno == EEXIST ? " (refusing to overwrite an existing key)" : ""));
  }
  bool ok = ::fchmod(fd, mode) == 0;
  std::size_t done = 0;
  while (ok && done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    ok = n > 0;
    done += ok ? static_cast<std::size_t>(n) : 0;
  }
  ok = ok && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    throw key_file_error("cannot write " + path + ": " + std::strerror(saved));
  }
}

std::string read_all(const std::string& path, int fd, std::string_view what) {
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      throw key_file_error("cannot read " + path + ": " + std::strerror(errno));
    }
    if (n == 0) {
      break;
    }
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > max_file_size) {
      wipe(text);
      throw key_file_error(path + " is too large to be a " + std::string(what) + " (over 1 MiB)");
    }
  }
  wipe(std::span(reinterpret_cast<std::uint8_t*>(buf), sizeof buf));
  return text;
}

}  // namespace

void write_secret_key_file(const std::string& path, std::string_view kind, const secret_bytes& secret) {
  std::string b64 = to_base64(secret.view());
  std::string line = std::string(secret_magic) + " " + std::string(kind) + " " + b64 + "\n";
  wipe(b64);
  try {
    write_exclusive(path, line, 0600);
  } catch (...) {
    wipe(line);
    throw;
  }
  wipe(line);
}

secret_bytes read_secret_key_file(const std::string& path, std::string_view kind) {
  // A symbolic link is followed, as for every other file the gateway trusts: others_may_change
  // checks the folders of the link and of its target, and the file opened must be the one checked.
  file_identity checked;
  const std::string problem = others_may_change(path, "secret key", &checked);
  // O_NONBLOCK: a FIFO named by mistake is refused below instead of blocking the open.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    throw key_file_error("cannot open secret key " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw key_file_error("secret key " + path + " is not a regular file");
  }
  std::string text;
  try {
    text = read_all(path, fd, "key file");
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  const std::string prefix = std::string(secret_magic) + " " + std::string(kind) + " ";
  if (text.rfind(prefix, 0) != 0) {
    // The wrong file (a public key, say) is named as such, before any advice on its mode.
    const bool other_kind = text.rfind(std::string(secret_magic) + " ", 0) == 0;
    wipe(text);
    throw key_file_error(path + (other_kind
                                     ? " holds a different kind of key (expected " + std::string(kind) + ")"
                                     : " is not a sovgw secret key file"));
  }
  if ((st.st_mode & 077) != 0) {
    wipe(text);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw key_file_error("refusing to use secret key " + path + ": its mode " + mode +
                         " lets group or others access it; run `chmod 600 " + path + "`");
  }
  if (!problem.empty()) {
    wipe(text);
    throw key_file_error(problem);
  }
  if (!checked.same_as(st)) {
    wipe(text);
    throw key_file_error(
        "secret key " + path +
        " changed while it was checked (it, or a link on its path, was replaced); try again");
  }
  std::string_view b64 = std::string_view(text).substr(prefix.size());
  if (!b64.empty() && b64.back() == '\n') {
    b64.remove_suffix(1);
  }
  auto decoded = from_base64(b64);
  wipe(text);
  if (!decoded) {
    throw key_file_error(path + " is malformed (bad base64)");
  }
  secret_bytes secret(*decoded);
  wipe(std::span(*decoded));
  return secret;
}

void write_public_file(const std::string& path, std::string_view text) { write_exclusive(path, text, 0644); }

std::string read_small_file(const std::string& path, std::string_view what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    throw key_file_error("cannot open " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw key_file_error(path + " is not a regular file");
  }
  std::string text;
  try {
    text = read_all(path, fd, what);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return text;
}

}  // namespace sovgw::crypto
