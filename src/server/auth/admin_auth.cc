#include "server/auth/admin_auth.h"

#include "agentgate/core/hash.h"

namespace agentgate {

std::string_view BearerToken(const HttpRequest& req) {
  std::string_view h = req.header("authorization");
  if (h.size() < 7 || !EqualsIgnoreCase(h.substr(0, 7), "bearer ")) return {};
  h.remove_prefix(7);
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
  return h;
}

AdminAuth::AdminAuth(std::string_view admin_key) {
  if (!admin_key.empty()) {
    key_hash_ = Sha256Hex(admin_key);
    key_id_ = "admin:" + key_hash_.substr(0, 8);
  }
}

Result<std::string> AdminAuth::check(const HttpRequest& req) const {
  if (key_hash_.empty()) {
    // A local reverse proxy makes every client look like loopback: a request
    // that says it was forwarded is treated as remote.
    bool forwarded = !req.header("forwarded").empty() || !req.header("x-forwarded-for").empty() ||
                     !req.header("x-real-ip").empty();
    if (req.remote_is_loopback && !forwarded) return std::string("loopback");
    return PermissionDenied(
        "the admin API is only reachable from loopback (and not through a proxy) until an admin "
        "key is configured");
  }
  std::string_view token = BearerToken(req);
  if (token.empty()) return Unauthenticated("missing admin key: send Authorization: Bearer <key>");
  if (!ConstantTimeEqual(Sha256Hex(token), key_hash_)) return Unauthenticated("invalid admin key");
  return key_id_;
}

}  // namespace agentgate
