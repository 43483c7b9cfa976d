#include "gateway/cluster_credentials.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "common/printable.hpp"
#include "common/trusted_file.hpp"

namespace sovgw::gateway {

namespace {

constexpr std::size_t max_credential = 8192;

// The credential in `path`, or nullopt with `why` set. A bearer token (RFC 6750) holds no space;
// another field's value none at either end.
std::optional<std::string> read_credential(const std::string& path, bool bearer, std::string& why) {
  // A symbolic link is followed, its folders and its target's checked (others_may_change), as
  // for every file the gateway trusts; the file opened must be the one checked.
  file_identity checked;
  const std::string untrusted = others_may_change(path, "the credential file", &checked);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // a FIFO: refused below
  if (fd < 0) {
    why = fmt::format("{}: cannot read the credential file: {}", path_or_secret(path), std::strerror(errno));
    return std::nullopt;
  }
  struct stat st {};
  std::string text;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    why = fmt::format("{}: the credential file is not a regular file", path);
  } else if ((st.st_mode & 077) != 0) {
    why = fmt::format(
        "{}: the credential file is accessible by group or others (mode {:04o}); run `chmod 600 {}`", path,
        st.st_mode & 07777, shell_word(path));
  } else if (!untrusted.empty()) {
    why = untrusted;
  } else if (!checked.same_as(st)) {
    why = fmt::format(
        "{}: the credential file changed while it was checked (it, or a link on its path, was "
        "replaced); try again",
        path);
  } else {
    char buf[max_credential + 2];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0 && text.size() <= max_credential) {
      text.append(buf, static_cast<std::size_t>(n));
    }
    if (n < 0) {
      why = fmt::format("{}: cannot read the credential file: {}", path, std::strerror(errno));
    }
  }
  ::close(fd);
  if (!why.empty()) {
    return std::nullopt;
  }
  if (text.ends_with("\r\n")) {
    text.resize(text.size() - 2);
  } else if (text.ends_with('\n')) {
    text.pop_back();
  }
  bool visible = !text.empty() && text.size() <= max_credential;
  for (const char c : text) {
    visible = visible && c >= 0x20 && c <= 0x7e;
  }
  if (!visible) {
    why = fmt::format("{}: the credential must be one non-empty line of visible ASCII (at most {} bytes)",
                      path, max_credential);
    return std::nullopt;
  }
  if (bearer && text.find(' ') != std::string::npos) {
    why = fmt::format(
        "{}: a bearer token holds no space (RFC 6750): the file must hold the token alone, "
        "without 'Bearer '",
        path);
    return std::nullopt;
  }
  if (text.front() == ' ' || text.back() == ' ') {
    why = fmt::format(
        "{}: the credential begins or ends with a space, which a header field value cannot carry", path);
    return std::nullopt;
  }
  return text;
}

// Every cluster's credential (null where there is no auth:); the problems in `errors`.
std::vector<std::shared_ptr<const cluster_credential>> read_all(const config& cfg, std::string& errors) {
  std::vector<std::shared_ptr<const cluster_credential>> out;
  for (const cluster_config& c : cfg.clusters) {
    if (c.auth.header.empty()) {
      out.emplace_back();
      continue;
    }
    std::string why;
    std::optional<std::string> value = read_credential(c.auth.file, c.auth.bearer, why);
    if (!value) {
      errors += errors.empty() ? "" : "\n";
      errors += cfg.at(c.auth.file_pos, fmt::format("cluster '{}': {}", c.name, why));
      out.emplace_back();
      continue;
    }
    out.push_back(std::make_shared<const cluster_credential>(
        cluster_credential{fmt::format("{}: {}{}\r\n", c.auth.header, c.auth.bearer ? "Bearer " : "", *value),
                           secret_forms(*value)}));
  }
  return out;
}

}  // namespace

cluster_credentials::cluster_credentials(std::shared_ptr<const config> cfg)
    : cfg_(std::move(cfg)),
      lines_(
          std::make_unique<std::atomic<std::shared_ptr<const cluster_credential>>[]>(cfg_->clusters.size())) {
  if (std::string errors = reload(); !errors.empty()) {
    throw config_error(errors, true);
  }
}

std::string cluster_credentials::reload() {
  std::string errors;
  std::vector<std::shared_ptr<const cluster_credential>> lines = read_all(*cfg_, errors);
  if (!errors.empty()) {
    return errors;
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    lines_[i].store(std::move(lines[i]));
  }
  return {};
}

}  // namespace sovgw::gateway
