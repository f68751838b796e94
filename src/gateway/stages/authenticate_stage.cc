#include "gateway/stages/authenticate_stage.h"

#include "server/auth/admin_auth.h"
#include "server/error_response.h"

namespace agentgate {

namespace {
constexpr size_t kMaxUserId = 256;
}

boost::asio::awaitable<void> AuthenticateStage::handle(RequestContext& ctx, Next next) {
  if (!keys_.empty()) {
    std::string_view token = BearerToken(ctx.request);
    std::optional<Principal> p = token.empty() ? std::nullopt : keys_.authenticate(token);
    if (!p) {
      SetError(ctx.response, Unauthenticated(token.empty()
                                                 ? "missing API key: send Authorization: Bearer <key>"
                                                 : "invalid API key"));
      co_return;
    }
    ctx.principal = std::move(*p);
  } else {
    std::string_view user = ctx.info.user;
    if (user.empty()) user = ctx.request.header("x-user-id");
    if (user.empty()) user = "anonymous";
    if (user.size() > kMaxUserId) {
      SetError(ctx.response, InvalidArgument("user id is longer than 256 bytes"));
      co_return;
    }
    ctx.principal.user_id = std::string(user);
  }
  if (ctx.principal.tier.empty()) ctx.principal.tier = default_tier_;
  co_await next(ctx);
}

}  // namespace agentgate
