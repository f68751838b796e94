// AuthenticateStage: who is calling.
//
// With client keys configured, `Authorization: Bearer <client key>` is
// required and maps to the key's {user_id, tier, tenant}; anything else is
// 401 invalid_api_key. With no client keys the proxy runs open: the user is
// the OpenAI `user` field, else the X-User-Id header, else "anonymous", in
// the default tier and tenant.
//
// Thread-safety: immutable; the KeyStore is internally synchronized.
#pragma once

#include <string>

#include "gateway/stage.h"
#include "server/auth/key_store.h"

namespace agentgate {

class AuthenticateStage final : public Stage {
 public:
  AuthenticateStage(const KeyStore& keys, std::string default_tier)
      : keys_(keys), default_tier_(std::move(default_tier)) {}

  std::string_view name() const override { return "authenticate"; }
  boost::asio::awaitable<void> handle(RequestContext& ctx, Next next) override;

 private:
  const KeyStore& keys_;
  const std::string default_tier_;
};

}  // namespace agentgate
