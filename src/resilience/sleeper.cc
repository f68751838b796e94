#include "agentgate/resilience/sleeper.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace agentgate {

boost::asio::awaitable<void> AsioSleeper::sleep(Nanos d) {
  if (d <= Nanos(0)) co_return;
  auto executor = co_await boost::asio::this_coro::executor;
  boost::asio::steady_timer timer(executor, d);
  // Cancellation ends the wait early; the caller sees its own cancellation.
  co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

boost::asio::awaitable<void> ManualSleeper::sleep(Nanos d) {
  {
    std::lock_guard lock(mu_);
    delays_.push_back(d);
  }
  if (d > Nanos(0)) clock_.advance(d);
  co_return;
}

std::vector<Nanos> ManualSleeper::delays() const {
  std::lock_guard lock(mu_);
  return delays_;
}

}  // namespace agentgate
