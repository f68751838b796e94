#include "agentgate/core/drained_read.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <tuple>

namespace agentgate {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
using ReadResult = std::tuple<boost::system::error_code, std::string>;

// A connected loopback pair: `reader` (non-blocking, read with DrainedRead)
// and `writer` (written synchronously by the test).
struct Pair {
  explicit Pair(net::io_context& io, bool enable = true) : reader(io), writer(io) {
    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    writer.connect(acceptor.local_endpoint());
    acceptor.accept(reader);
    reader.non_blocking(true);
    if (enable) enabled = EnableDrainedReads(reader);
  }
  tcp::socket reader;
  tcp::socket writer;
  bool enabled = false;
};

// Reads once, with a DrainedRead (or a ShortRead); a guard closes the reader
// after 10 s so that a lost wakeup fails the test instead of hanging it.
template <typename Read = DrainedRead>
net::awaitable<ReadResult> ReadOnce(tcp::socket& s, size_t size) {
  net::steady_timer guard(co_await net::this_coro::executor, std::chrono::seconds(10));
  guard.async_wait([&s](boost::system::error_code ec) {
    if (!ec) s.close();
  });
  std::string out(size, '\0');
  auto [ec, n] = co_await s.async_read_some(Read{net::buffer(out)}, kNoThrow);
  guard.cancel();
  out.resize(n);
  co_return std::make_tuple(ec, out);
}

// RunOn: runs `a` on `io` (where the sockets live) to completion.
ReadResult RunOn(net::io_context& io, net::awaitable<ReadResult> a) {
  std::optional<ReadResult> out;
  net::co_spawn(io, std::move(a), [&](std::exception_ptr e, ReadResult r) {
    if (e) std::rethrow_exception(e);
    out = std::move(r);
  });
  io.restart();
  io.run();
  return std::move(*out);
}

// ExpectTextThenEnd: the writer sends `text` and shuts down; one read gets
// the text, the next the end of the stream.
void ExpectTextThenEnd(net::io_context& io, Pair& p, const std::string& text) {
  net::write(p.writer, net::buffer(text));
  p.writer.shutdown(tcp::socket::shutdown_send);
  auto [ec1, got1] = RunOn(io, ReadOnce(p.reader, 64));
  EXPECT_FALSE(ec1);
  EXPECT_EQ(got1, text);
  auto [ec2, got2] = RunOn(io, ReadOnce(p.reader, 64));
  EXPECT_EQ(ec2, net::error::eof);
  EXPECT_EQ(got2, "");
}

TEST(DrainedReadTest, ReadsWhatArrivesAfterTheSocketWasDrained) {
  net::io_context io;
  Pair p(io);
  EXPECT_TRUE(p.enabled);
  net::write(p.writer, net::buffer(std::string("first")));
  auto [ec1, got1] = RunOn(io, ReadOnce(p.reader, 64));
  EXPECT_FALSE(ec1);
  EXPECT_EQ(got1, "first");

  // Nothing is queued now: the next read waits for epoll, and must see bytes
  // written while it waits.
  auto later = [&]() -> net::awaitable<ReadResult> {
    net::steady_timer t(co_await net::this_coro::executor, std::chrono::milliseconds(20));
    t.async_wait(
        [&](boost::system::error_code) { net::write(p.writer, net::buffer("second", 6)); });
    auto result = co_await ReadOnce(p.reader, 64);
    co_return result;
  };
  auto [ec2, got2] = RunOn(io, later());
  EXPECT_FALSE(ec2);
  EXPECT_EQ(got2, "second");

  // Bytes written before the read starts, with no event loop turn between.
  net::write(p.writer, net::buffer(std::string("third")));
  auto [ec3, got3] = RunOn(io, ReadOnce(p.reader, 64));
  EXPECT_FALSE(ec3);
  EXPECT_EQ(got3, "third");
}

TEST(DrainedReadTest, DataFollowedByEndOfStreamReadsTheEndAtOnce) {
  // The FIN is already queued behind the data: the kernel reports bytes left,
  // so the next read is tried at once and sees EOF (no epoll event would come).
  net::io_context io;
  Pair p(io);
  ExpectTextThenEnd(io, p, "last words");
}

TEST(DrainedReadTest, MoreThanTheBufferIsReadInPieces) {
  net::io_context io;
  Pair p(io);
  std::string sent(1000, 'x');
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>('a' + i % 26);
  net::write(p.writer, net::buffer(sent));
  p.writer.shutdown(tcp::socket::shutdown_send);
  std::string got;
  for (;;) {
    auto [ec, piece] = RunOn(io, ReadOnce(p.reader, 64));
    if (ec) {
      EXPECT_EQ(ec, net::error::eof);
      break;
    }
    EXPECT_LE(piece.size(), 64u);
    got += piece;
  }
  EXPECT_EQ(got, sent);
}

TEST(DrainedReadTest, WithoutEnablingItIsAPlainRead) {
  net::io_context io;
  Pair p(io, /*enable=*/false);
  ExpectTextThenEnd(io, p, "plain");
}

// The HTTP server sets TCP_NODELAY and TCP_INQ once, on its listener, and
// relies on Linux copying them into every socket the listener accepts.
TEST(DrainedReadTest, AcceptedSocketsInheritTheListenersNoDelayAndInq) {
  net::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
  acceptor.set_option(tcp::no_delay(true));
  ASSERT_TRUE(EnableDrainedReads(acceptor));
  tcp::socket writer(io), reader(io);
  writer.connect(acceptor.local_endpoint());
  acceptor.accept(reader);
  tcp::no_delay nodelay;
  reader.get_option(nodelay);
  EXPECT_TRUE(nodelay.value());
  int inq = 0;
  socklen_t len = sizeof inq;
  ASSERT_EQ(::getsockopt(reader.native_handle(), IPPROTO_TCP, TCP_INQ, &inq, &len), 0);
  EXPECT_EQ(inq, 1);
  // And a listener without them hands out sockets without them.
  tcp::acceptor plain(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
  tcp::socket writer2(io), reader2(io);
  writer2.connect(plain.local_endpoint());
  plain.accept(reader2);
  reader2.get_option(nodelay);
  EXPECT_FALSE(nodelay.value());
}

// ShortReadThenReadNow: the writer sends `text` (and then its FIN when
// `end`) before anything is read; one ShortRead must get the text; returns
// what a ReadNow right after it finds.
RecvResult ShortReadThenReadNow(net::io_context& io, Pair& p, const std::string& text, bool end) {
  net::write(p.writer, net::buffer(text));
  if (end) p.writer.shutdown(tcp::socket::shutdown_send);
  auto [ec, got] = RunOn(io, ReadOnce<ShortRead>(p.reader, 64));
  EXPECT_FALSE(ec);
  EXPECT_EQ(got, text);
  char more[64];
  return ReadNow(p.reader, net::buffer(more));
}

TEST(DrainedReadTest, ReadNowSeesTheEndThatCameWithAShortReadsBytes) {
  // The FIN is queued behind the text before the ShortRead: the read cannot
  // tell, and no epoll event would come for it; ReadNow finds it.
  net::io_context io;
  Pair p(io);
  RecvResult r = ShortReadThenReadNow(io, p, "last words", /*end=*/true);
  EXPECT_EQ(r.ec, net::error::eof);
  EXPECT_EQ(r.bytes, 0u);
}

TEST(DrainedReadTest, ReadNowWithNothingQueuedWouldBlockAndTheNextReadWaits) {
  net::io_context io;
  Pair p(io);
  RecvResult r = ShortReadThenReadNow(io, p, "first", /*end=*/false);
  EXPECT_EQ(r.ec, net::error::would_block);
  // Bytes written while the next read waits for epoll still arrive.
  auto later = [&]() -> net::awaitable<ReadResult> {
    net::steady_timer t(co_await net::this_coro::executor, std::chrono::milliseconds(20));
    t.async_wait(
        [&](boost::system::error_code) { net::write(p.writer, net::buffer("second", 6)); });
    auto result = co_await ReadOnce<ShortRead>(p.reader, 64);
    co_return result;
  };
  auto [ec2, got2] = RunOn(io, later());
  EXPECT_FALSE(ec2);
  EXPECT_EQ(got2, "second");
}

TEST(DrainedReadTest, ReadNowReportsBytesLeftBehindIt) {
  net::io_context io;
  Pair p(io);
  net::write(p.writer, net::buffer(std::string(100, 'x')));
  char part[40];
  RecvResult r1 = ReadNow(p.reader, net::buffer(part));
  EXPECT_FALSE(r1.ec);
  EXPECT_EQ(r1.bytes, 40u);
  EXPECT_FALSE(r1.drained);
  char rest[100];
  RecvResult r2 = ReadNow(p.reader, net::buffer(rest));
  EXPECT_FALSE(r2.ec);
  EXPECT_EQ(r2.bytes, 60u);
  EXPECT_TRUE(r2.drained);
}

TEST(DrainedReadTest, AShortReadThatFillsItsBufferLeavesTheRestToTheNextRead) {
  // A full buffer is not taken as drained: the next read is tried at once
  // and gets the rest (including the end, which follows directly).
  net::io_context io;
  Pair p(io);
  net::write(p.writer, net::buffer(std::string(100, 'y')));
  p.writer.shutdown(tcp::socket::shutdown_send);
  auto [ec1, got1] = RunOn(io, ReadOnce<ShortRead>(p.reader, 100));
  EXPECT_FALSE(ec1);
  EXPECT_EQ(got1.size(), 100u);
  auto [ec2, got2] = RunOn(io, ReadOnce<ShortRead>(p.reader, 100));
  EXPECT_EQ(ec2, net::error::eof);
  EXPECT_EQ(got2, "");
}

TEST(DrainedReadTest, PeerHasClosedSeesOnlyAFinQueuedAlone) {
  net::io_context io;
  Pair p(io);
  EXPECT_FALSE(PeerHasClosed(p.reader));  // nothing queued
  net::write(p.writer, net::buffer("request", 7));
  p.writer.shutdown(tcp::socket::shutdown_send);
  EXPECT_FALSE(PeerHasClosed(p.reader));  // bytes before the FIN
  // The short read takes the bytes and cannot see the FIN; the look does,
  // and consumes nothing: a read after it still gets the end.
  auto [ec1, got1] = RunOn(io, ReadOnce<ShortRead>(p.reader, 64));
  EXPECT_FALSE(ec1);
  EXPECT_EQ(got1, "request");
  EXPECT_TRUE(PeerHasClosed(p.reader));
  EXPECT_TRUE(PeerHasClosed(p.reader));
  char more[8];
  EXPECT_EQ(ReadNow(p.reader, net::buffer(more)).ec, net::error::eof);
}

TEST(DrainedReadTest, PeerResetIsAnError) {
  net::io_context io;
  Pair p(io);
  p.writer.set_option(net::socket_base::linger(true, 0));
  p.writer.close();  // RST
  auto [ec, got] = RunOn(io, ReadOnce(p.reader, 64));
  EXPECT_TRUE(ec);
  EXPECT_EQ(got, "");
}

}  // namespace
}  // namespace agentgate
