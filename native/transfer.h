// An ordered send of memory and file regions to a non-blocking socket, advanced in bursts.
// A burst never blocks on the peer: it returns on EAGAIN, so no thread ever waits for a slow reader.
#ifndef PENSTOCK_TRANSFER_H_
#define PENSTOCK_TRANSFER_H_

#include <atomic>
#include <stddef.h>
#include <stdint.h>
#include <vector>

#include "io.h"

struct pst_part {
  const uint8_t* data;  // non-null: bytes in memory; null: a region of file `fd`
  int fd;
  int64_t position;
  int64_t length;
};

enum pst_burst_status {
  PST_DONE = 0,   // every part sent
  PST_AGAIN = 1,  // the socket buffer is full: wait for writability
  PST_YIELD = 2,  // the byte budget is spent: schedule another burst
};

struct pst_transfer {
  int sock = -1;
  std::vector<pst_part> parts;
  uint64_t total = 0;
  size_t index = 0;    // first part not fully sent
  int64_t offset = 0;  // bytes of parts[index] already sent
  uint64_t bytes = 0;
  uint64_t zero_copy = 0;
  // Regions go file -> pipe -> socket by splice(2) instead of sendfile(2).
  bool use_splice = false;
  int pipe_r = -1;
  int pipe_w = -1;
  int64_t in_pipe = 0;  // bytes of parts[index] read into the pipe, not yet sent
  const char* syscall = nullptr;  // the last call tried, for errors
};

// Sends up to about `budget` bytes. Returns a pst_burst_status or a negative libuv error code;
// UV_ERANGE means a file region ended before its length (the file shrank), UV_ECANCELED that
// `cancelled` was seen set. Progress is recorded in `t` either way.
int pst_transfer_burst(pst_transfer* t, uint64_t budget, const std::atomic<bool>* cancelled);

#endif  // PENSTOCK_TRANSFER_H_
