# CRC-32 (IEEE, as zlib/binascii) for model files and data shards; runs everywhere.
try:
    from binascii import crc32
except ImportError:  # ports built without binascii.crc32
    def crc32(data, crc=0):
        # Bitwise CRC-32; the register stays within 32 bits, so on a 32-bit board it is a
        # small heap int only while < 2^30: acceptable here, this path is a rare fallback.
        crc ^= 0xFFFFFFFF
        for byte in data:
            crc ^= byte
            for _ in range(8):
                crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1))
        return crc ^ 0xFFFFFFFF
