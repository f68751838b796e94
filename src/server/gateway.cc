#include "server/gateway.h"

#include <spdlog/spdlog.h>

#include "server/admin/admin_route.h"
#include "server/http_server.h"
#include "server/ops_routes.h"

namespace agentgate {

Gateway::Gateway(Config config, const Clock& clock)
    : config_(std::move(config)), clock_(clock) {}

Gateway::~Gateway() { shutdown(); }

uint16_t Gateway::port() const { return server_ ? server_->port() : 0; }

Status Gateway::open_stores() {
  auto db = SqliteDb::open({.data_dir = config_.storage.data_dir});
  if (!db.ok()) return db.status();
  db_ = std::move(*db);
  auto keys = KeyStore::Open(*db_, clock_);
  if (!keys.ok()) return keys.status();
  keys_ = std::move(*keys);
  auto audit = AuditLog::Open(*db_, clock_);
  if (!audit.ok()) return audit.status();
  audit_ = std::move(*audit);
  readiness_.add("sqlite", true, [] { return CheckResult{}; });
  return Status::Ok();
}

void Gateway::register_routes() {
  RegisterOpsRoutes(router_, services_);
  RegisterKeyRoutes(router_, services_);
  RegisterAuditRoutes(router_, services_);
}

Status Gateway::start() {
  if (Status s = open_stores(); !s.ok()) return s;
  admin_auth_ = std::make_unique<AdminAuth>(config_.server.admin_key);
  if (!admin_auth_->has_key()) {
    spdlog::warn(
        "no admin key configured (server.admin_key or AGENTGATE_ADMIN_KEY): the admin API "
        "answers only clients on loopback");
  }
  services_ = GatewayServices{&config_, &clock_,      &metrics_,    db_.get(),
                              keys_.get(), audit_.get(), admin_auth_.get(), &readiness_};
  register_routes();

  const ServerConfig& sc = config_.server;
  HttpServerOptions o;
  o.host = sc.host;
  o.port = static_cast<uint16_t>(sc.port);
  o.threads = sc.threads;
  o.max_body_bytes = sc.max_body_bytes;
  o.max_header_bytes = sc.max_header_bytes;
  o.idle_timeout = sc.idle_timeout;
  o.header_timeout = sc.header_timeout;
  o.body_timeout = sc.body_timeout;
  o.max_connections = sc.max_connections;
  o.shutdown_grace = sc.shutdown_grace;
  o.access_log = sc.access_log == ServerConfig::AccessLog::kJson  ? AccessLogFormat::kJson
                 : sc.access_log == ServerConfig::AccessLog::kOff ? AccessLogFormat::kOff
                                                                  : AccessLogFormat::kText;
  server_ = std::make_unique<HttpServer>(
      o, [this](HttpRequest& req, HttpResponse& res) { return router_.dispatch(req, res); },
      &metrics_);
  if (Status s = server_->start(); !s.ok()) return s;
  readiness_.set_serving(true);
  return Status::Ok();
}

void Gateway::shutdown() {
  readiness_.set_serving(false);
  if (server_) server_->shutdown();
}

}  // namespace agentgate
