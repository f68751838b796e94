#include "cache/single_flight.h"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <functional>
#include <vector>

namespace agentgate {

namespace net = boost::asio;

struct SingleFlight::Flight {
  std::mutex mu;
  bool done = false;                                     // GUARDED_BY(mu)
  CachedResponsePtr answer;                              // GUARDED_BY(mu)
  std::vector<std::string> chunks;                       // GUARDED_BY(mu) the leader's stream
  bool stream_ended = false;                             // GUARDED_BY(mu)
  bool stream_ok = false;                                // GUARDED_BY(mu)
  std::vector<std::shared_ptr<net::steady_timer>> waiters;  // GUARDED_BY(mu)
};

namespace {

// Wake: ends each waiter's wait on its own executor. A timer set to the past
// both ends a pending wait and makes a wait that has not begun yet return at
// once.
void Wake(std::vector<std::shared_ptr<net::steady_timer>> waiters) {
  for (auto& timer : waiters) {
    net::post(timer->get_executor(),
              [timer] { timer->expires_at(net::steady_timer::time_point::min()); });
  }
}

}  // namespace

SingleFlight::Ticket SingleFlight::join(const std::string& key) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = flights_.try_emplace(key);
  if (inserted) it->second = std::make_shared<Flight>();
  return Ticket(this, key, it->second, inserted);
}

size_t SingleFlight::in_flight() const {
  std::lock_guard lock(mu_);
  return flights_.size();
}

void SingleFlight::end(const std::string& key, const std::shared_ptr<Flight>& flight,
                       CachedResponsePtr answer) {
  {
    std::lock_guard lock(mu_);
    auto it = flights_.find(key);
    if (it != flights_.end() && it->second == flight) flights_.erase(it);
  }
  std::vector<std::shared_ptr<net::steady_timer>> waiters;
  {
    std::lock_guard lock(flight->mu);
    if (flight->done) return;
    flight->done = true;
    flight->answer = std::move(answer);
    waiters.swap(flight->waiters);
  }
  Wake(std::move(waiters));
}

void SingleFlight::Ticket::publish(std::string_view bytes) {
  if (!leader_ || !flight_ || bytes.empty()) return;
  std::vector<std::shared_ptr<net::steady_timer>> waiters;
  {
    std::lock_guard lock(flight_->mu);
    if (flight_->done || flight_->stream_ended) return;
    flight_->chunks.emplace_back(bytes);
    waiters.swap(flight_->waiters);
  }
  Wake(std::move(waiters));
}

void SingleFlight::Ticket::end_stream(bool ok) {
  if (!leader_ || !flight_) return;
  std::vector<std::shared_ptr<net::steady_timer>> waiters;
  {
    std::lock_guard lock(flight_->mu);
    if (flight_->done || flight_->stream_ended) return;
    flight_->stream_ended = true;
    flight_->stream_ok = ok;
    waiters.swap(flight_->waiters);
  }
  Wake(std::move(waiters));
}

SingleFlight::Ticket::~Ticket() {
  if (leader_ && flight_) owner_->end(key_, flight_, nullptr);
}

void SingleFlight::Ticket::finish(CachedResponsePtr answer) {
  if (leader_ && flight_) owner_->end(key_, flight_, std::move(answer));
}

boost::asio::awaitable<bool> SingleFlight::Ticket::await_until(
    const std::function<bool(const Flight&)>& ready, Nanos timeout) {
  auto executor = co_await net::this_coro::executor;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto timer = std::make_shared<net::steady_timer>(executor);
    timer->expires_at(deadline);
    {
      std::lock_guard lock(flight_->mu);
      if (ready(*flight_)) co_return true;
      if (std::chrono::steady_clock::now() >= deadline) co_return false;
      flight_->waiters.push_back(timer);
    }
    auto [ec] = co_await timer->async_wait(net::as_tuple(net::use_awaitable));
    (void)ec;  // woken (aborted) or expired: check again
    // Unregister (Wake may have taken it already): a finished wait must not
    // leave a timer whose executor may be gone before the flight ends.
    std::lock_guard lock(flight_->mu);
    auto& waiters = flight_->waiters;
    waiters.erase(std::remove(waiters.begin(), waiters.end(), timer), waiters.end());
  }
}

boost::asio::awaitable<CachedResponsePtr> SingleFlight::Ticket::wait(Nanos timeout) {
  // Named first: g++ 12 destroys a temporary inside a co_await expression twice.
  const std::function<bool(const Flight&)> ready = [](const Flight& f) { return f.done; };
  const bool done = co_await await_until(ready, timeout);
  if (!done) co_return nullptr;
  std::lock_guard lock(flight_->mu);
  co_return flight_->answer;
}

boost::asio::awaitable<SingleFlight::Ticket::Update> SingleFlight::Ticket::watch(size_t from,
                                                                                 Nanos timeout) {
  const std::function<bool(const Flight&)> ready = [from](const Flight& f) {
    return f.chunks.size() > from || f.stream_ended || f.done;
  };
  const bool news = co_await await_until(ready, timeout);
  std::lock_guard lock(flight_->mu);
  const Flight& f = *flight_;
  Update u;
  if (f.chunks.size() > from) {
    u.chunks.assign(f.chunks.begin() + static_cast<std::ptrdiff_t>(from), f.chunks.end());
  }
  u.live = !f.chunks.empty();
  u.stream_ended = f.stream_ended;
  u.stream_ok = f.stream_ok;
  u.done = f.done;
  u.answer = f.answer;
  u.timed_out = !news;
  co_return u;
}

}  // namespace agentgate
