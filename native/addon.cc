// N-API glue: argument checks, Node-style errors, and the waiting machinery for socket sends.
// The system calls themselves live in io_*.cc, the burst logic in transfer.cc.
#include <napi.h>
#include <uv.h>

#include <atomic>
#include <cmath>
#include <string>
#include <unordered_map>
#include <vector>

#include "crc32c.h"
#include "io.h"
#include "transfer.h"

namespace {

// Bumped when the JS-facing shape changes, so src/io/native.ts can refuse a stale build.
constexpr uint32_t kBindingVersion = 1;
// One threadpool burst: long enough to amortise the hop, short enough to free the thread soon.
constexpr uint64_t kBurstBytes = 4 << 20;
// A send this small is tried once on the JS thread first: no threadpool hop when the socket has room.
constexpr uint64_t kInlineBytes = 64 << 10;
// Inline sends chained through promises never yield the loop, so cap them per loop turn.
constexpr uint64_t kInlineBytesPerTurn = 1 << 20;
constexpr int kPipeCapacity = 1 << 20;
constexpr double kMaxSafeInteger = 9007199254740991.0;

class Transfer;

// Per-environment state (main thread and each worker get their own).
struct Addon {
  napi_env env = nullptr;
  uv_loop_t* loop = nullptr;
  napi_async_cleanup_hook_handle cleanup_hook = nullptr;
  bool stopping = false;

  uint32_t next_id = 1;
  std::unordered_map<uint32_t, Transfer*> transfers;

  uv_check_t turn_check;
  bool turn_check_open = false;
  uint64_t inline_this_turn = 0;

  std::vector<pst_iov> iov;     // appendv scratch, JS thread only
  int receive_pipe[2] = {-1, -1};  // spliceToFile's pipe, JS thread only

  double inline_sends = 0;
  double bursts = 0;
  double polls = 0;

  void MaybeFinishCleanup();
};

Addon* GetAddon(const Napi::CallbackInfo& info) { return static_cast<Addon*>(info.Data()); }

// ---------------------------------------------------------------------------------------------
// Errors

Napi::Object UvError(Napi::Env env, int err, const char* syscall, const std::string* path = nullptr) {
  // Transfers use ERANGE for a file region that ended early; libuv's text ("result too large") misleads.
  const char* text = err == UV_ERANGE ? "file region ended before its length (file truncated?)" : uv_strerror(err);
  std::string message = std::string(uv_err_name(err)) + ": " + text + ", " + syscall;
  if (path != nullptr) message += " '" + *path + "'";
  Napi::Object e = Napi::Error::New(env, message).Value();
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, uv_err_name(err)));
  e.Set("syscall", Napi::String::New(env, syscall));
  if (path != nullptr) e.Set("path", Napi::String::New(env, *path));
  return e;
}

Napi::Value ThrowUv(Napi::Env env, int err, const char* syscall, const std::string* path = nullptr) {
  Napi::Error(env, UvError(env, err, syscall, path)).ThrowAsJavaScriptException();
  return Napi::Value();
}

Napi::Value ThrowType(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return Napi::Value();
}

Napi::Value ThrowRange(Napi::Env env, const std::string& message) {
  Napi::RangeError::New(env, message).ThrowAsJavaScriptException();
  return Napi::Value();
}

// ---------------------------------------------------------------------------------------------
// Argument helpers

bool ToInteger(Napi::Value v, double max, int64_t* out) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= max) || std::floor(d) != d) return false;
  *out = static_cast<int64_t>(d);
  return true;
}

bool ToFd(Napi::Value v, int* out) {
  int64_t n;
  if (!ToInteger(v, 2147483647.0, &n)) return false;
  *out = static_cast<int>(n);
  return true;
}

// Bytes of a Uint8Array (Buffer included).
bool ToBytes(napi_env env, napi_value v, uint8_t** data, size_t* length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return false;
  napi_typedarray_type type;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, v, &type, length, &raw, nullptr, nullptr) != napi_ok) return false;
  if (type != napi_uint8_array) return false;
  *data = static_cast<uint8_t*>(raw);
  return true;
}

// ---------------------------------------------------------------------------------------------
// crc32c(buf, start?, end?)

Napi::Value Crc32c(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* data;
  size_t length;
  if (!ToBytes(env, info[0], &data, &length)) return ThrowType(env, "crc32c: buf must be a Uint8Array");
  int64_t start = 0;
  int64_t end = static_cast<int64_t>(length);
  if (!info[1].IsUndefined() && !ToInteger(info[1], kMaxSafeInteger, &start)) {
    return ThrowRange(env, "crc32c: start must be a non-negative integer");
  }
  if (!info[2].IsUndefined() && !ToInteger(info[2], kMaxSafeInteger, &end)) {
    return ThrowRange(env, "crc32c: end must be a non-negative integer");
  }
  if (start > end || end > static_cast<int64_t>(length)) {
    return ThrowRange(env, "crc32c range [" + std::to_string(start) + ", " + std::to_string(end) +
                               ") outside buffer of " + std::to_string(length));
  }
  uint32_t crc = pst_crc32c(0, data + start, static_cast<size_t>(end - start));
  return Napi::Number::New(env, crc);
}

// ---------------------------------------------------------------------------------------------
// Files

Napi::Value OpenAppend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) return ThrowType(env, "openAppend: path must be a string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = pst_open_append(path.c_str());
  if (fd < 0) return ThrowUv(env, fd, "open", &path);
  return Napi::Number::New(env, fd);
}

Napi::Value Appendv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Addon* addon = GetAddon(info);
  int fd;
  if (!ToFd(info[0], &fd)) return ThrowType(env, "appendv: fd must be a non-negative integer");
  if (!info[1].IsArray()) return ThrowType(env, "appendv: buffers must be an array");
  Napi::Array buffers = info[1].As<Napi::Array>();
  uint32_t count = buffers.Length();
  std::vector<pst_iov>& iov = addon->iov;
  iov.resize(count);
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    uint8_t* data;
    size_t length;
    if (napi_get_element(env, buffers, i, &item) != napi_ok || !ToBytes(env, item, &data, &length)) {
      return ThrowType(env, "appendv: buffers[" + std::to_string(i) + "] must be a Uint8Array");
    }
    iov[i].iov_base = data;
    iov[i].iov_len = length;
  }
  uint64_t written = 0;
  int err = pst_writev_all(fd, iov.data(), count, &written);
  if (err < 0) {
    Napi::Object e = UvError(env, err, "writev");
    e.Set("bytesWritten", Napi::Number::New(env, static_cast<double>(written)));
    Napi::Error(env, e).ThrowAsJavaScriptException();
    return Napi::Value();
  }
  return Napi::Number::New(env, static_cast<double>(written));
}

class DatasyncWorker : public Napi::AsyncWorker {
 public:
  DatasyncWorker(Napi::Env env, int fd)
      : Napi::AsyncWorker(env, "penstock:datasync"), fd_(fd), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override { err_ = pst_fdatasync(fd_); }

  void OnOK() override {
    if (err_ < 0) {
      deferred_.Reject(UvError(Env(), err_, "fdatasync"));
    } else {
      deferred_.Resolve(Env().Undefined());
    }
  }

 private:
  int fd_;
  int err_ = 0;
  Napi::Promise::Deferred deferred_;
};

Napi::Value Datasync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ToFd(info[0], &fd)) return ThrowType(env, "datasync: fd must be a non-negative integer");
  auto* worker = new DatasyncWorker(env, fd);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value Pread(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t* data;
  size_t size;
  int64_t offset, length, position;
  if (!ToFd(info[0], &fd)) return ThrowType(env, "pread: fd must be a non-negative integer");
  if (!ToBytes(env, info[1], &data, &size)) return ThrowType(env, "pread: buf must be a Uint8Array");
  if (!ToInteger(info[2], kMaxSafeInteger, &offset) || !ToInteger(info[3], kMaxSafeInteger, &length) ||
      !ToInteger(info[4], kMaxSafeInteger, &position)) {
    return ThrowRange(env, "pread: offset, length and position must be non-negative integers");
  }
  if (offset + length > static_cast<int64_t>(size)) {
    return ThrowRange(env, "pread: [" + std::to_string(offset) + ", " + std::to_string(offset + length) +
                               ") outside buffer of " + std::to_string(size));
  }
  int64_t n = pst_pread_full(fd, data + offset, static_cast<size_t>(length), position);
  if (n < 0) return ThrowUv(env, static_cast<int>(n), "read");
  return Napi::Number::New(env, static_cast<double>(n));
}

// spliceToFile(srcFd, fileFd, offset, length): moves what the source has now (socket or pipe,
// never waiting for more) into the file at `offset`. The file must not be O_APPEND: the kernel
// refuses splice into an append-only fd with EINVAL.
Napi::Value SpliceToFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Addon* addon = GetAddon(info);
  int src, file;
  int64_t offset, length;
  if (!ToFd(info[0], &src) || !ToFd(info[1], &file)) {
    return ThrowType(env, "spliceToFile: srcFd and fileFd must be non-negative integers");
  }
  if (!ToInteger(info[2], kMaxSafeInteger, &offset) || !ToInteger(info[3], kMaxSafeInteger, &length)) {
    return ThrowRange(env, "spliceToFile: offset and length must be non-negative integers");
  }
  if (!pst_has_splice) return ThrowUv(env, UV_ENOSYS, "splice");
  int* pipe = addon->receive_pipe;
  if (pipe[0] < 0) {
    int err = pst_pipe(pipe, kPipeCapacity);
    if (err < 0) return ThrowUv(env, err, "pipe2");
  }
  int64_t moved = 0;
  int64_t position = offset;
  while (moved < length) {
    int64_t want = length - moved;
    if (want > kPipeCapacity) want = kPipeCapacity;
    int64_t n = pst_splice(src, nullptr, pipe[1], nullptr, static_cast<size_t>(want));
    if (n == 0) break;
    if (n == UV_EAGAIN && moved > 0) break;
    if (n < 0) return ThrowUv(env, static_cast<int>(n), "splice");
    int64_t left = n;
    while (left > 0) {
      int64_t m = pst_splice(pipe[0], nullptr, file, &position, static_cast<size_t>(left));
      if (m <= 0) {
        // Bytes stranded in the pipe would land in the next call's file: start over with a fresh pipe.
        pst_close(pipe[0]);
        pst_close(pipe[1]);
        pipe[0] = pipe[1] = -1;
        Napi::Object e = UvError(env, m < 0 ? static_cast<int>(m) : UV_EIO, "splice");
        e.Set("bytesWritten", Napi::Number::New(env, static_cast<double>(moved + n - left)));
        Napi::Error(env, e).ThrowAsJavaScriptException();
        return Napi::Value();
      }
      left -= m;
    }
    moved += n;
  }
  return Napi::Number::New(env, static_cast<double>(moved));
}

// ---------------------------------------------------------------------------------------------
// Sends to a socket (design D of NATIVE-NOTES): short non-blocking bursts on the threadpool,
// uv_poll(UV_WRITABLE) on a dup() of the socket fd while the peer's window is full.

void OnTurnCheck(uv_check_t* handle) {
  Addon* addon = static_cast<Addon*>(handle->data);
  addon->inline_this_turn = 0;
  uv_check_stop(handle);
}


class Transfer {
 public:
  // Tries one inline burst when the send is small, then continues asynchronously if needed.
  // Returns the id to cancel with, or 0 when the transfer already ended and `callback` was called.
  static Napi::Value Start(const Napi::CallbackInfo& info, pst_transfer t, Napi::Function callback,
                           Napi::Object keep_alive) {
    Napi::Env env = info.Env();
    Addon* addon = GetAddon(info);
    Transfer* self = new Transfer(addon, std::move(t));
    pst_transfer& tr = self->t_;

    int status = PST_YIELD;
    if (tr.total <= kInlineBytes && addon->inline_this_turn + tr.total <= kInlineBytesPerTurn) {
      addon->inline_sends++;
      status = pst_transfer_burst(&tr, kInlineBytes, nullptr);
      addon->inline_this_turn += tr.bytes;
      if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&addon->turn_check))) {
        uv_check_start(&addon->turn_check, OnTurnCheck);
      }
    }
    if (status == PST_DONE || status < 0) {
      self->CallSync(env, callback, status);
      self->Destroy();
      return Napi::Number::New(env, 0);
    }

    // From here other threads touch the socket, so the transfer owns its own descriptor for it:
    // Node may close and reuse its number at any time.
    int sock = pst_dup_cloexec(tr.sock);
    if (sock < 0) {
      tr.syscall = "fcntl";
      self->CallSync(env, callback, sock);
      self->Destroy();
      return Napi::Number::New(env, 0);
    }
    tr.sock = sock;
    self->owns_sock_ = true;
    self->callback_ = Napi::Persistent(callback);
    self->keep_alive_ = Napi::Persistent(keep_alive);
    napi_async_init(env, nullptr, Napi::String::New(env, "penstock:send"), &self->async_context_);
    if (addon->next_id == 0) addon->next_id = 1;
    self->id_ = addon->next_id++;
    addon->transfers[self->id_] = self;
    uint32_t id = self->id_;
    if (status == PST_AGAIN) {
      self->StartPoll();
    } else {
      self->QueueBurst();
    }
    return Napi::Number::New(env, id);
  }

  // The socket closed: stop, and report ECANCELED unless the last burst completed the send.
  bool Cancel() {
    if (state_ == State::kDone || state_ == State::kIdle) return false;
    cancelled_.store(true, std::memory_order_relaxed);
    if (state_ == State::kPool) {
      // Either the work never started (AfterBurst gets UV_ECANCELED) or the burst sees the flag.
      uv_cancel(reinterpret_cast<uv_req_t*>(&work_));
    } else {
      uv_poll_stop(&poll_);
      Finish(UV_ECANCELED);
    }
    return true;
  }

  // The environment is going away: stop without calling into JS.
  void Abandon() {
    if (state_ == State::kDone) return;
    cancelled_.store(true, std::memory_order_relaxed);
    if (state_ == State::kPool) {
      uv_cancel(reinterpret_cast<uv_req_t*>(&work_));
      return;
    }
    if (state_ == State::kPoll) uv_poll_stop(&poll_);
    state_ = State::kDone;
    Release();
  }

 private:
  enum class State { kIdle, kPool, kPoll, kDone };

  Transfer(Addon* addon, pst_transfer t) : addon_(addon), t_(std::move(t)) {}

  void Results(Napi::Env env, int status, napi_value* args) {
    if (status < 0) {
      Napi::Object e = UvError(env, status, t_.syscall != nullptr ? t_.syscall : "writev");
      e.Set("bytesSent", Napi::Number::New(env, static_cast<double>(t_.bytes)));
      args[0] = e;
    } else {
      args[0] = env.Null();
    }
    args[1] = Napi::Number::New(env, static_cast<double>(t_.bytes));
    args[2] = Napi::Number::New(env, static_cast<double>(t_.zero_copy));
  }

  void CallSync(Napi::Env env, Napi::Function callback, int status) {
    napi_value args[3];
    Results(env, status, args);
    callback.Call({args[0], args[1], args[2]});
  }

  // Calls JS from a libuv callback: needs its own handle scope, and MakeCallback so that async
  // hooks see the right context and microtasks (the promise reactions) run afterwards.
  void CallAsync(int status) {
    Napi::Env env(addon_->env);
    Napi::HandleScope scope(env);
    napi_value args[3];
    Results(env, status, args);
    callback_.Value().MakeCallback(env.Global(), {args[0], args[1], args[2]}, async_context_);
    if (env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
  }

  void QueueBurst() {
    state_ = State::kPool;
    addon_->bursts++;
    bytes_before_burst_ = t_.bytes;
    work_.data = this;
    int err = uv_queue_work(addon_->loop, &work_, Execute, AfterBurst);
    if (err < 0) {
      state_ = State::kIdle;
      Finish(err);
    }
  }

  // Threadpool: never touches env or JS, never waits for the peer.
  static void Execute(uv_work_t* req) {
    Transfer* self = static_cast<Transfer*>(req->data);
    self->burst_status_ = pst_transfer_burst(&self->t_, kBurstBytes, &self->cancelled_);
  }

  static void AfterBurst(uv_work_t* req, int status) {
    Transfer* self = static_cast<Transfer*>(req->data);
    self->state_ = State::kIdle;
    if (self->addon_->stopping) {
      self->state_ = State::kDone;
      self->Release();
      return;
    }
    int result = status == UV_ECANCELED ? UV_ECANCELED : self->burst_status_;
    if (result == PST_DONE) return self->Finish(0);
    if (self->cancelled_.load(std::memory_order_relaxed)) return self->Finish(UV_ECANCELED);
    if (result < 0) return self->Finish(result);
    if (result == PST_YIELD) return self->QueueBurst();
    int poll_error = self->poll_error_;
    self->poll_error_ = 0;
    // The poll reported an error and the send itself says only EAGAIN: trust the poll, or we would
    // alternate between the two forever.
    if (poll_error != 0 && self->t_.bytes == self->bytes_before_burst_) {
      self->t_.syscall = "poll";
      return self->Finish(poll_error);
    }
    self->StartPoll();
  }

  void StartPoll() {
    if (!poll_open_) {
      int err = uv_poll_init(addon_->loop, &poll_, t_.sock);
      if (err < 0) {
        t_.syscall = "poll";
        return Finish(err);
      }
      poll_.data = this;
      poll_open_ = true;
    }
    int err = uv_poll_start(&poll_, UV_WRITABLE, OnWritable);
    if (err < 0) {
      t_.syscall = "poll";
      return Finish(err);
    }
    state_ = State::kPoll;
    addon_->polls++;
  }

  // On a peer reset libuv reports UV_EBADF here; the next burst's send(2) reads the real error.
  static void OnWritable(uv_poll_t* handle, int status, int) {
    Transfer* self = static_cast<Transfer*>(handle->data);
    uv_poll_stop(handle);
    if (self->state_ != State::kPoll) return;
    if (status < 0) self->poll_error_ = status;
    self->QueueBurst();
  }

  void Finish(int status) {
    state_ = State::kDone;
    if (!addon_->stopping) CallAsync(status);
    Release();
  }

  void Release() {
    Napi::Env env(addon_->env);
    Napi::HandleScope scope(env);
    callback_.Reset();
    keep_alive_.Reset();
    if (async_context_ != nullptr) {
      napi_async_destroy(env, async_context_);
      async_context_ = nullptr;
    }
    // The copy of the socket fd may close only once libuv has dropped it from epoll: closing it
    // while still registered leaves a stale entry that spins the loop at 100% CPU.
    if (poll_open_) {
      uv_close(reinterpret_cast<uv_handle_t*>(&poll_), OnPollClosed);
    } else {
      Destroy();
    }
  }

  static void OnPollClosed(uv_handle_t* handle) { static_cast<Transfer*>(handle->data)->Destroy(); }

  void Destroy() {
    if (owns_sock_) pst_close(t_.sock);
    if (t_.pipe_r >= 0) pst_close(t_.pipe_r);
    if (t_.pipe_w >= 0) pst_close(t_.pipe_w);
    Addon* addon = addon_;
    if (id_ != 0) addon->transfers.erase(id_);
    delete this;
    addon->MaybeFinishCleanup();
  }

  Addon* addon_;
  pst_transfer t_;
  uint32_t id_ = 0;
  State state_ = State::kIdle;
  std::atomic<bool> cancelled_{false};
  int burst_status_ = 0;
  int poll_error_ = 0;
  uint64_t bytes_before_burst_ = 0;
  bool owns_sock_ = false;
  bool poll_open_ = false;
  uv_work_t work_;
  uv_poll_t poll_;
  Napi::FunctionReference callback_;
  Napi::ObjectReference keep_alive_;
  napi_async_context async_context_ = nullptr;
};

void Addon::MaybeFinishCleanup() {
  if (!stopping || !transfers.empty() || turn_check_open || cleanup_hook == nullptr) return;
  napi_async_cleanup_hook_handle hook = cleanup_hook;
  cleanup_hook = nullptr;
  napi_remove_async_cleanup_hook(hook);
}

// Async (not plain) cleanup hook: a burst may still be on the threadpool when a worker thread
// ends, and libuv must see every handle closed and request done before the loop is closed.
void OnEnvCleanup(napi_async_cleanup_hook_handle, void* arg) {
  Addon* addon = static_cast<Addon*>(arg);
  addon->stopping = true;
  std::vector<Transfer*> live;
  live.reserve(addon->transfers.size());
  for (auto& entry : addon->transfers) live.push_back(entry.second);
  for (Transfer* t : live) t->Abandon();
  if (addon->receive_pipe[0] >= 0) {
    pst_close(addon->receive_pipe[0]);
    pst_close(addon->receive_pipe[1]);
    addon->receive_pipe[0] = addon->receive_pipe[1] = -1;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&addon->turn_check), [](uv_handle_t* handle) {
    Addon* a = static_cast<Addon*>(handle->data);
    a->turn_check_open = false;
    a->MaybeFinishCleanup();
  });
}

bool ParseParts(napi_env env, Napi::Array parts, pst_transfer* t, std::string* problem) {
  uint32_t count = parts.Length();
  t->parts.reserve(count);
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    if (napi_get_element(env, parts, i, &item) != napi_ok) return false;
    uint8_t* data;
    size_t length;
    if (ToBytes(env, item, &data, &length)) {
      t->parts.push_back({data, -1, 0, static_cast<int64_t>(length)});
      t->total += length;
      continue;
    }
    Napi::Value value(env, item);
    int fd;
    int64_t position, region_length;
    if (!value.IsObject() || !ToFd(value.As<Napi::Object>().Get("fd"), &fd) ||
        !ToInteger(value.As<Napi::Object>().Get("position"), kMaxSafeInteger, &position) ||
        !ToInteger(value.As<Napi::Object>().Get("length"), kMaxSafeInteger, &region_length)) {
      *problem = "parts[" + std::to_string(i) + "] must be a Uint8Array or {fd, position, length} of non-negative integers";
      return false;
    }
    t->parts.push_back({nullptr, fd, position, region_length});
    t->total += static_cast<uint64_t>(region_length);
  }
  return true;
}

// sendParts(socketFd, parts, callback(err, bytes, zeroCopyBytes)) -> id (0: already finished)
Napi::Value SendParts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock;
  if (!ToFd(info[0], &sock)) return ThrowType(env, "sendParts: socketFd must be a non-negative integer");
  if (!info[1].IsArray()) return ThrowType(env, "sendParts: parts must be an array");
  if (!info[2].IsFunction()) return ThrowType(env, "sendParts: callback must be a function");
  if (!pst_has_sendfile) return ThrowUv(env, UV_ENOSYS, "sendfile");
  pst_transfer t;
  t.sock = sock;
  std::string problem;
  if (!ParseParts(env, info[1].As<Napi::Array>(), &t, &problem)) {
    if (env.IsExceptionPending()) return Napi::Value();
    return ThrowType(env, "sendParts: " + problem);
  }
  return Transfer::Start(info, std::move(t), info[2].As<Napi::Function>(), info[1].As<Napi::Object>());
}

// spliceFileToSocket(socketFd, fileFd, position, length, callback) -> id (0: already finished)
Napi::Value SpliceFileToSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock, fd;
  int64_t position, length;
  if (!ToFd(info[0], &sock) || !ToFd(info[1], &fd)) {
    return ThrowType(env, "spliceFileToSocket: socketFd and fileFd must be non-negative integers");
  }
  if (!ToInteger(info[2], kMaxSafeInteger, &position) || !ToInteger(info[3], kMaxSafeInteger, &length)) {
    return ThrowRange(env, "spliceFileToSocket: position and length must be non-negative integers");
  }
  if (!info[4].IsFunction()) return ThrowType(env, "spliceFileToSocket: callback must be a function");
  if (!pst_has_splice) return ThrowUv(env, UV_ENOSYS, "splice");
  pst_transfer t;
  t.sock = sock;
  t.use_splice = true;
  t.parts.push_back({nullptr, fd, position, length});
  t.total = static_cast<uint64_t>(length);
  int pipe[2];
  int err = pst_pipe(pipe, kPipeCapacity);
  if (err < 0) return ThrowUv(env, err, "pipe2");
  t.pipe_r = pipe[0];
  t.pipe_w = pipe[1];
  Napi::Function callback = info[4].As<Napi::Function>();
  return Transfer::Start(info, std::move(t), callback, callback);
}

Napi::Value CancelSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Addon* addon = GetAddon(info);
  int64_t id;
  if (!ToInteger(info[0], 4294967295.0, &id)) return ThrowType(env, "cancelSend: id must be a non-negative integer");
  auto it = addon->transfers.find(static_cast<uint32_t>(id));
  bool cancelled = it != addon->transfers.end() && it->second->Cancel();
  return Napi::Boolean::New(env, cancelled);
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Addon* addon = GetAddon(info);
  Napi::Object stats = Napi::Object::New(env);
  stats.Set("activeTransfers", Napi::Number::New(env, static_cast<double>(addon->transfers.size())));
  stats.Set("inlineSends", Napi::Number::New(env, addon->inline_sends));
  stats.Set("bursts", Napi::Number::New(env, addon->bursts));
  stats.Set("polls", Napi::Number::New(env, addon->polls));
  return stats;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Addon* addon = new Addon();
  addon->env = env;
  napi_get_uv_event_loop(env, &addon->loop);
  uv_check_init(addon->loop, &addon->turn_check);
  addon->turn_check.data = addon;
  uv_unref(reinterpret_cast<uv_handle_t*>(&addon->turn_check));
  addon->turn_check_open = true;
  napi_set_instance_data(
      env, addon, [](napi_env, void* data, void*) { delete static_cast<Addon*>(data); }, nullptr);
  napi_add_async_cleanup_hook(env, OnEnvCleanup, addon, &addon->cleanup_hook);

  auto fn = [&](const char* name, Napi::Function::Callback cb) {
    exports.Set(name, Napi::Function::New(env, cb, name, addon));
  };
  fn("crc32c", Crc32c);
  fn("openAppend", OpenAppend);
  fn("appendv", Appendv);
  fn("datasync", Datasync);
  fn("pread", Pread);
  fn("sendParts", SendParts);
  fn("spliceFileToSocket", SpliceFileToSocket);
  fn("spliceToFile", SpliceToFile);
  fn("cancelSend", CancelSend);
  fn("stats", Stats);

  Napi::Object features = Napi::Object::New(env);
  features.Set("crc32c", Napi::String::New(env, pst_crc32c_impl()));
  features.Set("sendfile", Napi::Boolean::New(env, pst_has_sendfile));
  features.Set("splice", Napi::Boolean::New(env, pst_has_splice));
  features.Set("files", Napi::Boolean::New(env, pst_has_files));
  features.Freeze();
  exports.Set("features", features);
  exports.Set("version", Napi::Number::New(env, kBindingVersion));
  return exports;
}

}  // namespace

NODE_API_MODULE(penstock, Init)
