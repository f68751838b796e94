// Status and Result<T>: errors as values.
//
// Every fallible operation on the request path returns a Status or a
// Result<T>; exceptions are reserved for programming errors and start-up.
// The server maps a Status to an HTTP status and the OpenAI error shape in
// exactly one place (server/error_response.h).
//
//   Result<Principal> p = keys.authenticate(token);
//   if (!p.ok()) return p.status();
//   Use(p->user_id);
//
// Choosing a code: the HTTP status the client should see decides it.
//   kInvalidArgument    400  the request itself is wrong (bad JSON, bad field)
//   kUnauthenticated    401  missing or unknown key
//   kPermissionDenied   403  known key, not allowed here
//   kNotFound           404  no such route or resource
//   kMethodNotAllowed   405  route exists, not with this method
//   kAlreadyExists      409  conflicts with stored state
//   kPayloadTooLarge    413  body over the limit
//   kHeadersTooLarge    431  headers over the limit
//   kResourceExhausted  429  rate limit or budget exceeded
//   kInternal           500  a bug or an invariant broken on our side
//   kBadGateway         502  upstream answered something unusable
//   kUnavailable        503  a dependency is down (breaker open, store away)
//   kDeadlineExceeded   504  upstream did not answer in time
//
// Thread-safety: values; safe to copy between threads.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace agentgate {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,
  kUnauthenticated,
  kPermissionDenied,
  kNotFound,
  kMethodNotAllowed,
  kAlreadyExists,
  kPayloadTooLarge,
  kHeadersTooLarge,
  kResourceExhausted,
  kInternal,
  kBadGateway,
  kUnavailable,
  kDeadlineExceeded,
};

// StatusCodeName: "INVALID_ARGUMENT" etc., for logs.
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // ToString: "INVALID_ARGUMENT: message" (or "OK").
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status Unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status BadGateway(std::string m) { return {StatusCode::kBadGateway, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }

// Result<T>: a T or the Status saying why there is none. Never holds an OK
// status without a value.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status");
  }
  // A T built in place from `args` (no move of a T built elsewhere).
  template <typename... Args>
  explicit Result(std::in_place_t, Args&&... args)
      : v_(std::in_place_type<T>, std::forward<Args>(args)...) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  // status: OK when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  // value: REQUIRES ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace agentgate
