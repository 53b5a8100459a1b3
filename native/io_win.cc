// Windows: no sendfile to a Node socket and no raw fd behind it, so every call reports ENOSYS
// and the JS side uses the pure-JS paths; the addon still loads for crc32c.
#include "io.h"

#include <uv.h>

const bool pst_has_sendfile = false;
const bool pst_has_splice = false;
const bool pst_has_files = false;

int pst_open_append(const char*) { return UV_ENOSYS; }
int pst_close(int) { return UV_ENOSYS; }
int pst_dup_cloexec(int) { return UV_ENOSYS; }
int pst_pipe(int[2], int) { return UV_ENOSYS; }
int pst_writev_all(int, pst_iov*, size_t, uint64_t* written) {
  *written = 0;
  return UV_ENOSYS;
}
int64_t pst_writev_once(int, const pst_iov*, size_t) { return UV_ENOSYS; }
int pst_fdatasync(int) { return UV_ENOSYS; }
int64_t pst_pread_full(int, void*, size_t, int64_t) { return UV_ENOSYS; }
int64_t pst_sendfile(int, int, int64_t*, size_t) { return UV_ENOSYS; }
int64_t pst_splice(int, int64_t*, int, int64_t*, size_t) { return UV_ENOSYS; }
