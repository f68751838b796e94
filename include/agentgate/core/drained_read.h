// DrainedRead: a buffer for a TCP socket's async_read_some that tells Asio's
// epoll reactor when a read has left nothing to read, so that the next read
// waits for epoll instead of first trying a recv that returns EAGAIN.
//
//   EnableDrainedReads(socket);  // once, after connect (or on the listener)
//   auto [ec, n] = co_await socket.async_read_some(DrainedRead{buffer}, token);
//
// Asio 1.26 (Boost 1.81) tries every read at once ("speculatively") unless
// the previous read found the socket at EOF; after a request/response
// exchange the peer has nothing more to send yet, so that recv fails with
// EAGAIN: about two wasted syscalls per proxied request. Here each read is a
// recvmsg that also returns the number of bytes still queued (TCP_INQ, Linux
// 4.18+; non-zero when a FIN is pending too). When that is zero the read is
// reported as `done_and_exhausted`, as Asio already does for short writes:
// the reactor then skips the speculative attempt until epoll reports the
// socket readable again, which it does for anything arriving after that read
// (edge-triggered; the flag is set and cleared under the descriptor's lock).
// This is nginx's `ready` flag. Without EnableDrainedReads (or where the
// kernel does not report it) a DrainedRead is a plain read.
//
// ShortRead is the cheaper variant for the first read of a message that
// usually arrives whole (an upstream's response, a client's request): a
// plain recv(2), which costs the kernel about 280 ns less per read than
// recvmsg(2) with TCP_INQ on this kind of machine. A read that does not fill
// its buffer is taken to have drained the socket (nginx's rule). What such a
// read cannot see is a FIN that arrived before it, with its bytes (the epoll
// event for both is already spent). So when a short ShortRead left the
// message incomplete, call ReadNow before awaiting another read, and again
// while it returns bytes without `drained`; once it says would_block, await
// as usual.
//
//   auto [ec, n] = co_await socket.async_read_some(ShortRead{buffer}, token);
//   bool check_now = !ec && n < buffer.size();  // and the message incomplete:
//   RecvResult r = ReadNow(socket, more);       // before the next await
//
// Where the message is complete and the next read is left waiting (a server
// awaiting the next request), a FIN it missed shows only when someone looks:
// PeerHasClosed, from a periodic sweep.
//
// The specializations below replace Asio's class for these buffer types
// only; their layout is Asio 1.26's, hence the version check.
//
// Thread-safety: value types; a socket must not have two reads in flight
// (as for any Asio read), nor a ReadNow while a read is in flight.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/socket_base.hpp>
// After socket_base.hpp: this detail header does not include what it uses.
#include <boost/asio/detail/reactive_socket_recv_op.hpp>
#include <boost/asio/version.hpp>
#include <cerrno>
#include <cstring>

#if BOOST_ASIO_VERSION != 102600
#error "DrainedRead mirrors Asio 1.26's reactive_socket_recv_op_base: check it against this version"
#endif

namespace agentgate {

struct DrainedRead {
  boost::asio::mutable_buffer buffer;

  // A MutableBufferSequence of one buffer.
  const boost::asio::mutable_buffer* begin() const { return &buffer; }
  const boost::asio::mutable_buffer* end() const { return &buffer + 1; }
};

// EnableDrainedReads: asks the kernel to report the bytes left after each
// read (TCP_INQ) on a connected TCP socket, or on a listener, whose accepted
// sockets inherit it. Returns false where it cannot (then DrainedRead reads
// behave as plain ones).
template <typename Socket>
bool EnableDrainedReads(Socket& socket) {
  int on = 1;
  return ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_INQ, &on, sizeof(on)) == 0;
}

// ShortRead: a MutableBufferSequence of one buffer, read with recv(2).
struct ShortRead {
  boost::asio::mutable_buffer buffer;

  const boost::asio::mutable_buffer* begin() const { return &buffer; }
  const boost::asio::mutable_buffer* end() const { return &buffer + 1; }
};

// RecvResult: what one non-blocking read got. `ec` is eof at the end of the
// stream and would_block when nothing is there yet; `drained`: nothing is
// left queued behind these bytes (as far as the read can tell).
struct RecvResult {
  boost::system::error_code ec;
  size_t bytes = 0;
  bool drained = false;
};

namespace drained_read_detail {

// RecvDrained: one recvmsg(2) that also reads TCP_INQ (DrainedRead's read).
inline RecvResult RecvDrained(int fd, boost::asio::mutable_buffer buffer, int flags) {
  iovec iov{buffer.data(), buffer.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  for (;;) {
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t got = ::recvmsg(fd, &msg, flags);
    if (got < 0) {
      int err = errno;
      if (err == EINTR) continue;
      return {boost::system::error_code(err, boost::asio::error::get_system_category()), 0, true};
    }
    if (got == 0) return {boost::asio::error::eof, 0, true};
    RecvResult out{{}, static_cast<size_t>(got), false};
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_TCP && c->cmsg_type == TCP_CM_INQ) {
        int left = 0;
        std::memcpy(&left, CMSG_DATA(c), sizeof(left));
        out.drained = left == 0;
      }
    }
    return out;
  }
}

// RecvShort: one recv(2); a read that did not fill the buffer counts as drained.
inline RecvResult RecvShort(int fd, boost::asio::mutable_buffer buffer, int flags) {
  for (;;) {
    ssize_t got = ::recv(fd, buffer.data(), buffer.size(), flags);
    if (got < 0) {
      int err = errno;
      if (err == EINTR) continue;
      return {boost::system::error_code(err, boost::asio::error::get_system_category()), 0, true};
    }
    if (got == 0) return {boost::asio::error::eof, 0, true};
    return {{}, static_cast<size_t>(got), static_cast<size_t>(got) < buffer.size()};
  }
}

}  // namespace drained_read_detail

// PeerHasClosed: true when the peer's FIN is all that is queued on a stream
// socket (a look that consumes nothing: recv with MSG_PEEK, not waiting).
// For a socket read with ShortRead whose read waits while the peer may have
// closed already, unseen.
template <typename Socket>
bool PeerHasClosed(Socket& socket) {
  char byte = 0;
  ssize_t got;
  do {
    got = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  } while (got < 0 && errno == EINTR);
  return got == 0;
}

// ReadNow: reads what is already queued on a stream socket, without waiting
// (a DrainedRead done synchronously). See ShortRead for when it is needed.
template <typename Socket>
RecvResult ReadNow(Socket& socket, boost::asio::mutable_buffer buffer) {
  return drained_read_detail::RecvDrained(socket.native_handle(), buffer, MSG_DONTWAIT);
}

}  // namespace agentgate

namespace boost::asio::detail {

// The read operation for both buffer types, on stream sockets: Asio's
// non_blocking_recv1 results (EOF = 0 bytes, not_done on EAGAIN), plus
// done_and_exhausted when the socket is drained.
template <typename Buffers, agentgate::RecvResult (*Recv)(int, mutable_buffer, int)>
class drained_recv_op_base : public reactor_op {
 public:
  drained_recv_op_base(const boost::system::error_code& success_ec, socket_type socket,
                       socket_ops::state_type /*state*/, const Buffers& buffers,
                       socket_base::message_flags flags, func_type complete_func)
      : reactor_op(success_ec, &drained_recv_op_base::do_perform, complete_func),
        socket_(socket),
        buffer_(buffers.buffer),
        flags_(flags) {}

  static status do_perform(reactor_op* base) {
    auto* o = static_cast<drained_recv_op_base*>(base);
    agentgate::RecvResult r = Recv(o->socket_, o->buffer_, o->flags_);
    o->ec_ = r.ec;
    o->bytes_transferred_ = r.bytes;
    if (r.ec == boost::asio::error::would_block) return not_done;
    return r.drained ? done_and_exhausted : done;
  }

 private:
  socket_type socket_;
  boost::asio::mutable_buffer buffer_;
  socket_base::message_flags flags_;
};

template <>
class reactive_socket_recv_op_base<agentgate::DrainedRead>
    : public drained_recv_op_base<agentgate::DrainedRead,
                                  &agentgate::drained_read_detail::RecvDrained> {
 public:
  using drained_recv_op_base::drained_recv_op_base;
};

template <>
class reactive_socket_recv_op_base<agentgate::ShortRead>
    : public drained_recv_op_base<agentgate::ShortRead,
                                  &agentgate::drained_read_detail::RecvShort> {
 public:
  using drained_recv_op_base::drained_recv_op_base;
};

}  // namespace boost::asio::detail
