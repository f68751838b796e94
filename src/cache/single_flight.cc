#include "cache/single_flight.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <vector>

namespace agentgate {

namespace net = boost::asio;

struct SingleFlight::Flight {
  std::mutex mu;
  bool done = false;                                     // GUARDED_BY(mu)
  CachedResponsePtr answer;                              // GUARDED_BY(mu)
  std::vector<std::shared_ptr<net::steady_timer>> waiters;  // GUARDED_BY(mu)
};

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
  // Wake each follower on its own executor: a timer set to the past both
  // ends a pending wait and makes a wait that has not begun yet return at once.
  for (auto& timer : waiters) {
    net::post(timer->get_executor(),
              [timer] { timer->expires_at(net::steady_timer::time_point::min()); });
  }
}

SingleFlight::Ticket::~Ticket() {
  if (leader_ && flight_) owner_->end(key_, flight_, nullptr);
}

void SingleFlight::Ticket::finish(CachedResponsePtr answer) {
  if (leader_ && flight_) owner_->end(key_, flight_, std::move(answer));
}

boost::asio::awaitable<CachedResponsePtr> SingleFlight::Ticket::wait(Nanos timeout) {
  auto executor = co_await net::this_coro::executor;
  auto timer = std::make_shared<net::steady_timer>(executor);
  timer->expires_after(timeout);
  bool done = false;
  CachedResponsePtr answer;
  {
    std::lock_guard lock(flight_->mu);
    done = flight_->done;
    if (done) {
      answer = flight_->answer;
    } else {
      flight_->waiters.push_back(timer);
    }
  }
  if (done) co_return answer;
  auto [ec] = co_await timer->async_wait(net::as_tuple(net::use_awaitable));
  (void)ec;
  std::lock_guard lock(flight_->mu);
  co_return flight_->done ? flight_->answer : nullptr;
}

}  // namespace agentgate
