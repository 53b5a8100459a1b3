#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/sendfile.h>
#elif defined(__APPLE__)
#include <sys/socket.h>
#endif

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

#if defined(__linux__)
const bool pst_has_sendfile = true;
const bool pst_has_splice = true;
#elif defined(__APPLE__)
const bool pst_has_sendfile = true;
const bool pst_has_splice = false;
#else
const bool pst_has_sendfile = false;
const bool pst_has_splice = false;
#endif
const bool pst_has_files = true;

int pst_open_append(const char* path) {
  int fd;
  do {
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  return fd < 0 ? -errno : fd;
}

int pst_close(int fd) {
  // Retrying close on EINTR can close a number another thread just got; Linux frees the fd anyway.
  return close(fd) < 0 && errno != EINTR ? -errno : 0;
}

int pst_dup_cloexec(int fd) {
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return copy < 0 ? -errno : copy;
}

int pst_pipe(int fds[2], int capacity) {
#if defined(__linux__)
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) return -errno;
  // Best effort: an unprivileged process may not exceed /proc/sys/fs/pipe-max-size.
  if (capacity > 0) fcntl(fds[1], F_SETPIPE_SZ, capacity);
  return 0;
#else
  (void)capacity;
  if (pipe(fds) < 0) return -errno;
  for (int i = 0; i < 2; i++) {
    fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
  }
  return 0;
#endif
}

int pst_writev_all(int fd, pst_iov* iov, size_t count, uint64_t* written) {
  *written = 0;
  size_t i = 0;
  while (i < count && iov[i].iov_len == 0) i++;
  while (i < count) {
    int chunk = count - i > IOV_MAX ? IOV_MAX : static_cast<int>(count - i);
    ssize_t n = writev(fd, iov + i, chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    *written += static_cast<uint64_t>(n);
    size_t left = static_cast<size_t>(n);
    while (i < count && left >= iov[i].iov_len) {
      left -= iov[i].iov_len;
      i++;
    }
    if (left > 0) {
      iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
      iov[i].iov_len -= left;
    }
    while (i < count && iov[i].iov_len == 0) i++;
  }
  return 0;
}

int64_t pst_writev_once(int fd, const pst_iov* iov, size_t count) {
  int chunk = count > IOV_MAX ? IOV_MAX : static_cast<int>(count);
  ssize_t n;
  do {
    n = writev(fd, iov, chunk);
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : n;
}

int pst_fdatasync(int fd) {
#if defined(__APPLE__)
  // macOS declares no fdatasync; fsync is the nearest honest equivalent.
  int r = fsync(fd);
#else
  int r = fdatasync(fd);
#endif
  return r < 0 ? -errno : 0;
}

int64_t pst_pread_full(int fd, void* buf, size_t length, int64_t position) {
  size_t done = 0;
  while (done < length) {
    ssize_t n = pread(fd, static_cast<char*>(buf) + done, length - done, static_cast<off_t>(position + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<int64_t>(done);
}

int64_t pst_sendfile(int sock, int fd, int64_t* position, size_t length) {
#if defined(__linux__)
  // Linux transfers at most 0x7ffff000 bytes per call.
  if (length > 0x7ffff000) length = 0x7ffff000;
  off_t off = static_cast<off_t>(*position);
  ssize_t n;
  do {
    n = sendfile(sock, fd, &off, length);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  *position = off;
  return n;
#elif defined(__APPLE__)
  // The BSD form reports a partial transfer through len even when it fails with EAGAIN.
  off_t len = static_cast<off_t>(length);
  int r = sendfile(fd, sock, static_cast<off_t>(*position), &len, nullptr, 0);
  if (r < 0 && !((errno == EAGAIN || errno == EINTR) && len > 0)) return -errno;
  *position += len;
  return len;
#else
  (void)sock; (void)fd; (void)position; (void)length;
  return -ENOSYS;
#endif
}

int64_t pst_splice(int in, int64_t* in_offset, int out, int64_t* out_offset, size_t length) {
#if defined(__linux__)
  loff_t in_off = in_offset ? *in_offset : 0;
  loff_t out_off = out_offset ? *out_offset : 0;
  ssize_t n;
  do {
    n = splice(in, in_offset ? &in_off : nullptr, out, out_offset ? &out_off : nullptr, length,
               SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  if (in_offset) *in_offset = in_off;
  if (out_offset) *out_offset = out_off;
  return n;
#else
  (void)in; (void)in_offset; (void)out; (void)out_offset; (void)length;
  return -ENOSYS;
#endif
}
