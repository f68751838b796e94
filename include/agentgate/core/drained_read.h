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
// The specialization below replaces Asio's class for this buffer type only;
// its layout is Asio 1.26's, hence the version check.
//
// Thread-safety: a value type; a socket must not have two reads in flight
// (as for any Asio read).
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

}  // namespace agentgate

namespace boost::asio::detail {

template <>
class reactive_socket_recv_op_base<agentgate::DrainedRead> : public reactor_op {
 public:
  reactive_socket_recv_op_base(const boost::system::error_code& success_ec, socket_type socket,
                               socket_ops::state_type state, const agentgate::DrainedRead& buffers,
                               socket_base::message_flags flags, func_type complete_func)
      : reactor_op(success_ec, &reactive_socket_recv_op_base::do_perform, complete_func),
        socket_(socket),
        state_(state),
        buffer_(buffers.buffer),
        flags_(flags) {}

  // Same results as Asio's non_blocking_recv1 (EOF = 0 bytes on a stream,
  // retried on EINTR, not_done on EAGAIN), plus done_and_exhausted when the
  // kernel says nothing is left.
  static status do_perform(reactor_op* base) {
    auto* o = static_cast<reactive_socket_recv_op_base*>(base);
    bool stream = (o->state_ & socket_ops::stream_oriented) != 0;
    iovec iov{o->buffer_.data(), o->buffer_.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    for (;;) {
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      ssize_t got = ::recvmsg(o->socket_, &msg, o->flags_);
      if (got < 0) {
        int err = errno;
        if (err == EINTR) continue;
        o->ec_ = boost::system::error_code(err, boost::asio::error::get_system_category());
        if (err == EAGAIN || err == EWOULDBLOCK) return not_done;
        o->bytes_transferred_ = 0;
        return done_and_exhausted;  // as Asio: a read of 0 bytes
      }
      o->ec_ = boost::system::error_code();
      o->bytes_transferred_ = static_cast<std::size_t>(got);
      if (got == 0 && stream) {
        o->ec_ = boost::asio::error::eof;
        return done_and_exhausted;
      }
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_TCP && c->cmsg_type == TCP_CM_INQ) {
          int left = 0;
          std::memcpy(&left, CMSG_DATA(c), sizeof(left));
          return left == 0 ? done_and_exhausted : done;
        }
      }
      return done;
    }
  }

 private:
  socket_type socket_;
  socket_ops::state_type state_;
  boost::asio::mutable_buffer buffer_;
  socket_base::message_flags flags_;
};

}  // namespace boost::asio::detail
