// RedisReply: the plain reply value, its text form and the copy from
// hiredis's reply (see redis_client.h).
#include <hiredis/hiredis.h>

#include <string>
#include <utility>
#include <vector>

#include "store/redis_client.h"

namespace agentgate {

RedisReply RedisReply::Integer(int64_t v) {
  RedisReply r;
  r.type = Type::kInteger;
  r.integer = v;
  return r;
}
RedisReply RedisReply::String(std::string s) {
  RedisReply r;
  r.type = Type::kString;
  r.str = std::move(s);
  return r;
}
RedisReply RedisReply::StatusReply(std::string s) {
  RedisReply r;
  r.type = Type::kStatus;
  r.str = std::move(s);
  return r;
}
RedisReply RedisReply::Error(std::string s) {
  RedisReply r;
  r.type = Type::kError;
  r.str = std::move(s);
  return r;
}
RedisReply RedisReply::Array(std::vector<RedisReply> elements) {
  RedisReply r;
  r.type = Type::kArray;
  r.elements = std::move(elements);
  return r;
}

std::string DebugString(const RedisReply& reply) {
  switch (reply.type) {
    case RedisReply::Type::kNil:
      return "(nil)";
    case RedisReply::Type::kInteger:
      return "(integer) " + std::to_string(reply.integer);
    case RedisReply::Type::kString:
      return "\"" + reply.str + "\"";
    case RedisReply::Type::kStatus:
      return reply.str;
    case RedisReply::Type::kError:
      return "(error) " + reply.str;
    case RedisReply::Type::kArray: {
      std::string out = "[";
      for (size_t i = 0; i < reply.elements.size(); ++i) {
        if (i > 0) out += ", ";
        out += DebugString(reply.elements[i]);
      }
      return out + "]";
    }
  }
  return "?";
}

RedisReply CopyRedisReply(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
      return RedisReply::String(std::string(r->str, r->len));
    case REDIS_REPLY_STATUS:
      return RedisReply::StatusReply(std::string(r->str, r->len));
    case REDIS_REPLY_ERROR:
      return RedisReply::Error(std::string(r->str, r->len));
    case REDIS_REPLY_INTEGER:
      return RedisReply::Integer(r->integer);
    case REDIS_REPLY_ARRAY: {
      std::vector<RedisReply> elements;
      elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) elements.push_back(CopyRedisReply(r->element[i]));
      return RedisReply::Array(std::move(elements));
    }
    case REDIS_REPLY_NIL:
    default:
      return RedisReply::Nil();
  }
}

}  // namespace agentgate
