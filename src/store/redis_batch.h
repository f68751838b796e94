// RedisBatch: sends several commands on one RedisClient at once (pipelined
// on its connection: one round trip for all of them) and returns their
// results in order.
//
//   std::vector<std::vector<std::string>> cmds = {{"HGETALL", a}, {"ZSCORE", b, "alice"}};
//   std::vector<Result<RedisReply>> replies = co_await RedisBatch(client, std::move(cmds));
//
// Each result is what RedisClient::command would have returned for it.
// REQUIRES: the awaiting coroutine's executor runs its handlers one at a time
// (an io_context run by one thread, or a strand), as every executor here does.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string>
#include <utility>
#include <vector>

#include "store/redis_client.h"

namespace agentgate {

boost::asio::awaitable<std::vector<Result<RedisReply>>> RedisBatch(
    RedisClient& client, std::vector<std::vector<std::string>> commands);

// ScanHashes: every hash whose key starts with `head` (SCAN MATCH head*,
// then HGETALL of each page's keys in one batch), as (key without `head`,
// HGETALL reply) pairs; replies that are not arrays are skipped. The first
// error ends the scan.
boost::asio::awaitable<Result<std::vector<std::pair<std::string, RedisReply>>>> ScanHashes(
    RedisClient& client, std::string head);

}  // namespace agentgate
