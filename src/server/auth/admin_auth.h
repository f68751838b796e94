// AdminAuth: who may call the admin API (/api/v1/...).
//
// With an admin key configured, a request must carry `Authorization: Bearer
// <admin key>`; the comparison is between SHA-256 digests in constant time.
// With none configured, only clients on loopback are admitted (and the
// gateway logs a warning at start), unless the request carries Forwarded,
// X-Forwarded-For or X-Real-IP: a local reverse proxy's clients are remote.
//
// Thread-safety: immutable after construction.
#pragma once

#include <string>
#include <string_view>

#include "agentgate/core/status.h"
#include "server/http_types.h"

namespace agentgate {

class AdminAuth {
 public:
  explicit AdminAuth(std::string_view admin_key);

  // check: the admin key id ("admin:<8 hex>" or "loopback") if `req` may use
  // the admin API; kUnauthenticated (no/unknown key) or kPermissionDenied
  // (no key configured and the client is not on loopback) otherwise.
  Result<std::string> check(const HttpRequest& req) const;

  bool has_key() const { return !key_hash_.empty(); }

 private:
  std::string key_hash_;  // hex SHA-256 of the admin key; "" when none
  std::string key_id_;
};

// BearerToken: the token of an `Authorization: Bearer <token>` header, or "".
std::string_view BearerToken(const HttpRequest& req);

}  // namespace agentgate
