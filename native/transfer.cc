#include "transfer.h"

#include <uv.h>

namespace {

// Enough for a response's header and partition buffers in one writev(2), small enough for the stack.
constexpr size_t kMaxIov = 256;
// splice(2) moves at most a pipe's capacity per call; larger requests are just clamped by the kernel.
constexpr int64_t kPipeChunk = 1 << 20;

void skip_empty(pst_transfer* t) {
  while (t->index < t->parts.size() && t->offset >= t->parts[t->index].length) {
    t->index++;
    t->offset = 0;
  }
}

void advance(pst_transfer* t, uint64_t n) {
  t->bytes += n;
  while (n > 0) {
    uint64_t rest = static_cast<uint64_t>(t->parts[t->index].length - t->offset);
    if (n < rest) {
      t->offset += static_cast<int64_t>(n);
      return;
    }
    n -= rest;
    t->index++;
    t->offset = 0;
  }
}

// One writev(2) of the run of memory parts starting at t->index.
int64_t send_memory(pst_transfer* t, uint64_t* wanted) {
  pst_iov iov[kMaxIov];
  size_t count = 0;
  uint64_t want = 0;
  int64_t skip = t->offset;
  for (size_t i = t->index; i < t->parts.size() && count < kMaxIov; i++) {
    const pst_part& p = t->parts[i];
    if (p.data == nullptr) break;
    if (p.length - skip == 0) continue;
    iov[count].iov_base = const_cast<uint8_t*>(p.data + skip);
    iov[count].iov_len = static_cast<size_t>(p.length - skip);
    want += iov[count].iov_len;
    count++;
    skip = 0;
  }
  *wanted = want;
  t->syscall = "writev";
  return pst_writev_once(t->sock, iov, count);
}

int64_t send_region(pst_transfer* t, uint64_t budget) {
  const pst_part& p = t->parts[t->index];
  uint64_t want = static_cast<uint64_t>(p.length - t->offset);
  if (want > budget) want = budget;
  int64_t position = p.position + t->offset;
  t->syscall = "sendfile";
  int64_t n = pst_sendfile(t->sock, p.fd, &position, static_cast<size_t>(want));
  if (n == 0) return UV_ERANGE;
  return n;
}

// file -> pipe (only when the pipe is empty), then pipe -> socket.
int64_t splice_region(pst_transfer* t, uint64_t budget) {
  const pst_part& p = t->parts[t->index];
  t->syscall = "splice";
  if (t->in_pipe == 0) {
    int64_t want = p.length - t->offset;
    if (want > kPipeChunk) want = kPipeChunk;
    if (static_cast<uint64_t>(want) > budget) want = static_cast<int64_t>(budget);
    int64_t position = p.position + t->offset;
    int64_t n = pst_splice(p.fd, &position, t->pipe_w, nullptr, static_cast<size_t>(want));
    if (n == 0) return UV_ERANGE;
    if (n < 0) return n;
    t->in_pipe = n;
  }
  int64_t n = pst_splice(t->pipe_r, nullptr, t->sock, nullptr, static_cast<size_t>(t->in_pipe));
  if (n > 0) t->in_pipe -= n;
  return n;
}

}  // namespace

int pst_transfer_burst(pst_transfer* t, uint64_t budget, const std::atomic<bool>* cancelled) {
  uint64_t sent = 0;
  for (;;) {
    skip_empty(t);
    if (t->index == t->parts.size()) return PST_DONE;
    if (cancelled != nullptr && cancelled->load(std::memory_order_relaxed)) return UV_ECANCELED;
    if (sent >= budget) return PST_YIELD;

    const pst_part& p = t->parts[t->index];
    uint64_t want = 0;
    int64_t n;
    if (p.data != nullptr) {
      n = send_memory(t, &want);
    } else if (t->use_splice) {
      n = splice_region(t, budget - sent);
      want = static_cast<uint64_t>(n) + static_cast<uint64_t>(t->in_pipe);
    } else {
      want = static_cast<uint64_t>(p.length - t->offset);
      if (want > budget - sent) want = budget - sent;
      n = send_region(t, budget - sent);
    }
    if (n == UV_EAGAIN) return PST_AGAIN;
    if (n < 0) return static_cast<int>(n);

    advance(t, static_cast<uint64_t>(n));
    if (p.data == nullptr) t->zero_copy += static_cast<uint64_t>(n);
    sent += static_cast<uint64_t>(n);
    // A short write to a non-blocking socket means its buffer is full; the next call would say EAGAIN.
    if (static_cast<uint64_t>(n) < want) return PST_AGAIN;
  }
}
