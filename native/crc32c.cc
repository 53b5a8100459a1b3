#include "crc32c.h"

#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define PST_CRC_X86 1
#include <nmmintrin.h>
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#define PST_TARGET_SSE42
#else
#define PST_TARGET_SSE42 __attribute__((target("sse4.2")))
#endif
#elif defined(__aarch64__) && (defined(__linux__) || defined(__APPLE__))
#define PST_CRC_ARM 1
#include <arm_acle.h>
#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif
#if defined(__clang__)
#define PST_TARGET_CRC __attribute__((target("crc")))
#else
#define PST_TARGET_CRC __attribute__((target("+crc")))
#endif
#endif

namespace {

constexpr uint32_t kPoly = 0x82F63B78;  // Castagnoli, reflected

struct Tables {
  uint32_t t[8][256];
};

constexpr Tables MakeTables() {
  Tables s{};
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    s.t[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = s.t[0][n];
    for (int k = 1; k < 8; k++) {
      c = s.t[0][c & 0xff] ^ (c >> 8);
      s.t[k][n] = c;
    }
  }
  return s;
}

constexpr Tables kTables = MakeTables();

// Slicing-by-8 on the raw register (no pre/post inversion); byte order independent.
uint32_t CrcTable(uint32_t crc, const uint8_t* p, size_t n) {
  const auto& t = kTables.t;
  while (n >= 8) {
    uint32_t lo = crc ^ (static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
                         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24);
    crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
          t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n--) crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return crc;
}

#if PST_CRC_X86

// Three independent crc32 instruction streams hide its 3-cycle latency; the partial CRCs are
// joined by "append N zero bytes" operators, precomputed as four byte-indexed tables each.
constexpr size_t kLong = 8192;
constexpr size_t kShort = 256;

struct ZeroShift {
  uint32_t t[4][256];
};

ZeroShift MakeZeroShift(size_t zeros) {
  uint32_t column[32];
  for (int bit = 0; bit < 32; bit++) {
    uint32_t c = 1u << bit;
    for (size_t i = 0; i < zeros; i++) c = kTables.t[0][c & 0xff] ^ (c >> 8);
    column[bit] = c;
  }
  ZeroShift z{};
  for (int k = 0; k < 4; k++) {
    for (uint32_t b = 0; b < 256; b++) {
      uint32_t v = 0;
      for (int i = 0; i < 8; i++) {
        if (b & (1u << i)) v ^= column[8 * k + i];
      }
      z.t[k][b] = v;
    }
  }
  return z;
}

inline uint32_t Shift(const ZeroShift& z, uint32_t crc) {
  return z.t[0][crc & 0xff] ^ z.t[1][(crc >> 8) & 0xff] ^ z.t[2][(crc >> 16) & 0xff] ^ z.t[3][crc >> 24];
}

struct Shifts {
  ZeroShift long_;
  ZeroShift short_;
};

const Shifts& GetShifts() {
  static const Shifts shifts{MakeZeroShift(kLong), MakeZeroShift(kShort)};
  return shifts;
}

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

template <size_t kBlock>
PST_TARGET_SSE42 inline uint32_t Crc3Way(uint32_t crc, const uint8_t*& p, size_t& n, const ZeroShift& shift) {
  while (n >= 3 * kBlock) {
    uint64_t c0 = crc, c1 = 0, c2 = 0;
    for (size_t i = 0; i < kBlock; i += 8) {
      c0 = _mm_crc32_u64(c0, Load64(p + i));
      c1 = _mm_crc32_u64(c1, Load64(p + kBlock + i));
      c2 = _mm_crc32_u64(c2, Load64(p + 2 * kBlock + i));
    }
    crc = Shift(shift, static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1);
    crc = Shift(shift, crc) ^ static_cast<uint32_t>(c2);
    p += 3 * kBlock;
    n -= 3 * kBlock;
  }
  return crc;
}

PST_TARGET_SSE42 uint32_t CrcSse42(uint32_t crc, const uint8_t* p, size_t n) {
  if (n >= 3 * kShort) {
    const Shifts& s = GetShifts();
    crc = Crc3Way<kLong>(crc, p, n, s.long_);
    crc = Crc3Way<kShort>(crc, p, n, s.short_);
  }
  uint64_t c = crc;
  while (n >= 8) {
    c = _mm_crc32_u64(c, Load64(p));
    p += 8;
    n -= 8;
  }
  crc = static_cast<uint32_t>(c);
  while (n--) crc = _mm_crc32_u8(crc, *p++);
  return crc;
}

bool HasSse42() {
#if defined(_MSC_VER) && !defined(__clang__)
  int info[4];
  __cpuid(info, 1);
  return (info[2] & (1 << 20)) != 0;
#else
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
#endif
}

#endif  // PST_CRC_X86

#if PST_CRC_ARM

PST_TARGET_CRC uint32_t CrcArmv8(uint32_t crc, const uint8_t* p, size_t n) {
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    crc = __crc32cd(crc, v);
    p += 8;
    n -= 8;
  }
  while (n--) crc = __crc32cb(crc, *p++);
  return crc;
}

bool HasArmCrc() {
#if defined(__APPLE__)
  return true;  // every Apple arm64 CPU has the CRC extension
#else
  return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
#endif
}

#endif  // PST_CRC_ARM

using CrcFn = uint32_t (*)(uint32_t, const uint8_t*, size_t);

struct Impl {
  CrcFn fn;
  const char* name;
};

Impl Choose() {
#if PST_CRC_X86
  if (HasSse42()) {
    GetShifts();
    return {CrcSse42, "sse4.2"};
  }
#elif PST_CRC_ARM
  if (HasArmCrc()) return {CrcArmv8, "armv8"};
#endif
  return {CrcTable, "table"};
}

const Impl& GetImpl() {
  static const Impl impl = Choose();
  return impl;
}

}  // namespace

uint32_t pst_crc32c(uint32_t crc, const uint8_t* data, size_t length) {
  return ~GetImpl().fn(~crc, data, length);
}

const char* pst_crc32c_impl() { return GetImpl().name; }
