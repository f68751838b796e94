// Binary encodings of cache values for remote stores (Redis): a stored
// response (with its stream capture) and an embedding.
//
// CachedResponse: "AGR1", then u32 status, u8 flags (1 streamed, 2
// complete), content type, body, u32 event count, events; each string a
// u32 length and its bytes; integers little-endian.
// Embedding: one tag byte, then 'f' float32s or 'd' float64s (an array of
// numbers; float32 when every value survives the round trip), or 'j' the
// JSON text (a base64 string or anything else).
//
// SemanticEntry: "AGS1", i64 expiry (Unix ms), query, tenant, agent type,
// model, params, response, then u32 dimensions and float32s.
//
// Decoders never trust their input: a malformed value is nullopt (the store
// treats it as a miss). Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "agentgate/cache/response_cache.h"
#include "agentgate/cache/semantic_cache.h"
#include "agentgate/core/json.h"

namespace agentgate {

std::string EncodeCachedResponse(const CachedResponse& r);
std::optional<CachedResponse> DecodeCachedResponse(std::string_view bytes);

std::string EncodeSemanticEntry(const SemanticEntry& e, int64_t expires_at_ms);
// DecodeSemanticEntry: the entry (ttl left 0) and its expiry in *expires_at_ms.
std::optional<SemanticEntry> DecodeSemanticEntry(std::string_view bytes, int64_t* expires_at_ms);

std::string EncodeEmbedding(const Json& value);
std::optional<Json> DecodeEmbedding(std::string_view bytes);

}  // namespace agentgate
