// The system calls penstock needs, one function each, with no N-API in sight.
// Every function returns a non-negative result or a negative error number that is also a libuv
// error code (on Unix that is -errno), so the glue can name it with uv_err_name().
#ifndef PENSTOCK_IO_H_
#define PENSTOCK_IO_H_

#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
struct pst_iov {
  void* iov_base;
  size_t iov_len;
};
#else
#include <sys/uio.h>
typedef struct iovec pst_iov;
#endif

// Which kernel transfer paths this build has.
extern const bool pst_has_sendfile;
extern const bool pst_has_splice;
extern const bool pst_has_files;

// open(path, O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC, 0644).
int pst_open_append(const char* path);
int pst_close(int fd);
// fcntl(F_DUPFD_CLOEXEC): the copy a transfer owns, so Node can close and reuse its own number.
int pst_dup_cloexec(int fd);
// pipe2(O_CLOEXEC|O_NONBLOCK), grown to `capacity` bytes where the kernel allows.
int pst_pipe(int fds[2], int capacity);

// Blocking writev(2) of every byte of iov[0, count): loops on short writes and EINTR, chunks by
// IOV_MAX. Consumes `iov` (entries are advanced in place). *written counts bytes written even on error.
int pst_writev_all(int fd, pst_iov* iov, size_t count, uint64_t* written);
// One writev(2) on a non-blocking fd; EINTR retried. Returns bytes or -errno (EAGAIN included).
int64_t pst_writev_once(int fd, const pst_iov* iov, size_t count);
int pst_fdatasync(int fd);
// pread(2) until `length` bytes or end of file; EINTR retried. Returns bytes read.
int64_t pst_pread_full(int fd, void* buf, size_t length, int64_t position);

// One sendfile(2) of up to `length` bytes from file `fd` at *position into socket `sock`;
// advances *position. Returns bytes (0 means the file ended) or -errno.
int64_t pst_sendfile(int sock, int fd, int64_t* position, size_t length);
// One splice(2) with SPLICE_F_MOVE|SPLICE_F_NONBLOCK; a null offset means "the fd's own".
int64_t pst_splice(int in, int64_t* in_offset, int out, int64_t* out_offset, size_t length);

#endif  // PENSTOCK_IO_H_
