#include "gateway/tls_context.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstring>
#include <ctime>
#include <stdexcept>

#include "common/regular_file.hpp"
#include "common/trusted_file.hpp"

namespace sovgw::gateway {

namespace {

std::string openssl_reason() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) {
    return "unknown OpenSSL error";
  }
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + ": " + openssl_reason()); }

// OpenSSL opens PEM files itself, blocking on a FIFO and reading a device without end: `path` must
// be a regular file first.
const std::string& pem_file(const std::string& path, std::string_view what) {
  if (const file_error e = check_regular_file(path, max_pem_bytes, what); e.kind != file_problem::none) {
    throw std::runtime_error(fmt::format("{}: {}", path, e.message()));
  }
  // A CA bundle others could change would let them add a CA (and read the cluster traffic); a
  // certificate or key, swap the gateway's identity.
  if (std::string problem = others_may_change(path, what); !problem.empty()) {
    throw std::runtime_error(problem);
  }
  return path;
}

constexpr const char* intermediate_tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
constexpr const char* intermediate_groups = "X25519:prime256v1:secp384r1";
// TLS 1.3 suites in the intermediate profile's order. The listener picks by its own order (as
// HAProxy does by default), so a client offering everything gets AES-128-GCM, a third cheaper per
// byte than OpenSSL's default choice AES-256-GCM and as strong as the profile asks; a client that
// prefers ChaCha20 (no AES instructions) still gets ChaCha20.
constexpr const char* intermediate_tls13_suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr unsigned char alpn_http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// HTTP/1.1 when the client offers it, else HTTP/1.0 (`curl --http1.0` offers only "http/1.0";
// the listener speaks it: probe round 30 found it refused at the handshake).
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  for (const std::string_view protocol : {std::string_view("http/1.1"), std::string_view("http/1.0")}) {
    for (unsigned int i = 0; i < inlen;) {
      unsigned int len = in[i];
      if (i + 1 + len > inlen) {
        break;
      }
      if (len == protocol.size() && std::memcmp(in + i + 1, protocol.data(), len) == 0) {
        *out = in + i + 1;
        *outlen = static_cast<unsigned char>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;  // the client offers protocols, none of which we speak
}

ssl_ctx_ptr new_context(const SSL_METHOD* method) {
  SSL_CTX* raw = SSL_CTX_new(method);
  if (raw == nullptr) {
    fail("SSL_CTX_new");
  }
  ssl_ctx_ptr ctx(raw, SSL_CTX_free);
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  SSL_CTX_set_mode(
      raw, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_options(raw, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_read_ahead(raw, 1);  // one read(2) per record (or several) instead of header + body
  if (SSL_CTX_set_cipher_list(raw, intermediate_tls12_ciphers) != 1 ||
      SSL_CTX_set1_groups_list(raw, intermediate_groups) != 1) {
    fail("setting the TLS cipher profile");
  }
  return ctx;
}

void load_certificate_and_key(SSL_CTX* ctx, const std::string& cert, const std::string& key) {
  if (SSL_CTX_use_certificate_chain_file(ctx, pem_file(cert, "certificate").c_str()) != 1) {
    fail(fmt::format("{}: cannot load the certificate chain", cert));
  }
  check_private_key_permissions(key);
  if (SSL_CTX_use_PrivateKey_file(ctx, pem_file(key, "private key").c_str(), SSL_FILETYPE_PEM) != 1) {
    fail(fmt::format("{}: cannot load the private key", key));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    fail(fmt::format("{} does not match the certificate {}", key, cert));
  }
}

}  // namespace

void check_private_key_permissions(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw std::runtime_error(fmt::format("{}: cannot read the private key: {}", path, std::strerror(errno)));
  }
  if ((st.st_mode & 077) != 0) {
    throw std::runtime_error(
        fmt::format("{}: private key is readable by group or others (mode {:04o}); run `chmod 600 {}`", path,
                    st.st_mode & 07777, shell_word(path)));
  }
}

namespace {

// A certificate outside its validity period fails every client's handshake: refused at start,
// by `config check` and on SIGHUP (the current one stays), rather than loaded (probe round 29: an
// expired certificate was "reloaded" and every handshake failed).
void check_validity_period(SSL_CTX* ctx, const std::string& path) {
  X509* leaf = SSL_CTX_get0_certificate(ctx);
  if (leaf == nullptr) {
    throw std::runtime_error(fmt::format("{}: no certificate in the file", path));
  }
  const auto when = [](const ASN1_TIME* t) {
    struct tm tm {};
    char text[32] = "?";
    if (ASN1_TIME_to_tm(t, &tm) == 1) {
      (void)std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    return std::string(text);
  };
  if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0) {
    throw std::runtime_error(fmt::format("{}: the certificate expired at {} (not after); clients refuse it",
                                         path, when(X509_get0_notAfter(leaf))));
  }
  if (X509_cmp_current_time(X509_get0_notBefore(leaf)) >= 0) {
    throw std::runtime_error(fmt::format("{}: the certificate is not valid before {} (not before); clients "
                                         "refuse it until then",
                                         path, when(X509_get0_notBefore(leaf))));
  }
}

}  // namespace

std::int64_t certificate_not_after(const ssl_ctx_ptr& ctx) {
  X509* leaf = ctx ? SSL_CTX_get0_certificate(ctx.get()) : nullptr;
  struct tm tm {};
  if (leaf == nullptr || ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) != 1) {
    return 0;
  }
  return static_cast<std::int64_t>(timegm(&tm));
}

ssl_ctx_ptr make_server_context(const downstream_tls_config& tls) {
  ssl_ctx_ptr ctx = new_context(TLS_server_method());
  SSL_CTX* raw = ctx.get();
  if (SSL_CTX_set_ciphersuites(raw, intermediate_tls13_suites) != 1) {
    fail("setting the TLS 1.3 cipher suites");
  }
  SSL_CTX_set_options(raw, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
  load_certificate_and_key(raw, tls.certificate, tls.private_key);
  check_validity_period(raw, tls.certificate);
  SSL_CTX_set_alpn_select_cb(raw, select_alpn, nullptr);
  SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_SERVER);
  SSL_CTX_set_session_id_context(raw, reinterpret_cast<const unsigned char*>("sovgw"), 5);
  if (!tls.client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(raw, pem_file(tls.client_ca, "client CA").c_str(), nullptr) != 1) {
      fail(fmt::format("{}: cannot load the client CA", tls.client_ca));
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca.c_str());
    if (names == nullptr) {
      fail(fmt::format("{}: no CA certificate in the file", tls.client_ca));
    }
    SSL_CTX_set_client_CA_list(raw, names);
    int mode = SSL_VERIFY_PEER;
    if (tls.require_client_certificate) {
      mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_CTX_set_verify(raw, mode, nullptr);
  }
  return ctx;
}

ssl_ctx_ptr make_client_context(const cluster_config& cluster) {
  if (cluster.insecure_loopback_plaintext) {
    return nullptr;
  }
  ssl_ctx_ptr ctx = new_context(TLS_client_method());
  SSL_CTX* raw = ctx.get();
  SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  if (cluster.tls.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(raw) != 1) {
      fail(fmt::format("cluster '{}': cannot load the system trust store", cluster.name));
    }
  } else if (SSL_CTX_load_verify_locations(raw, pem_file(cluster.tls.ca_file, "CA bundle").c_str(),
                                           nullptr) != 1) {
    fail(fmt::format("cluster '{}': {}: cannot load the CA bundle", cluster.name, cluster.tls.ca_file));
  }
  if (!cluster.tls.client_certificate.empty()) {
    load_certificate_and_key(raw, cluster.tls.client_certificate, cluster.tls.client_key);
  }
  SSL_CTX_set_alpn_protos(raw, alpn_http11, sizeof alpn_http11);
  SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_CLIENT);
  return ctx;
}

}  // namespace sovgw::gateway
