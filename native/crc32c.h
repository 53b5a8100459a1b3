#ifndef PENSTOCK_CRC32C_H_
#define PENSTOCK_CRC32C_H_

#include <stddef.h>
#include <stdint.h>

// CRC-32C (Castagnoli) of data[0, length), continuing from `crc` (0 for a fresh checksum).
uint32_t pst_crc32c(uint32_t crc, const uint8_t* data, size_t length);

// The implementation this CPU gets: "sse4.2", "armv8" or "table".
const char* pst_crc32c_impl();

#endif  // PENSTOCK_CRC32C_H_
