#include "aptrepo/deb/md5_lanes.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#define APTSHIP_MD5_LANES 1
#endif

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <numeric>

#include "aptrepo/core/hash.hpp"

namespace aptship::deb {

#ifdef APTSHIP_MD5_LANES
namespace {

constexpr size_t k_block = 64;
constexpr std::array<uint32_t, 4> k_init = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};

// RFC 1321's sine table and per-round shifts.
constexpr std::array<uint32_t, 64> k_sine = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};

// One message being hashed in a lane: its whole blocks straight from the
// message, then one or two padded blocks built at the start.
struct LaneJob {
  const char* next = nullptr;
  size_t whole_blocks = 0;
  std::array<char, 2 * k_block> tail{};
  size_t tail_blocks = 0;
  size_t tail_done = 0;
  size_t message = 0;
  bool active = false;

  void start(std::string_view data, size_t index) {
    next = data.data();
    whole_blocks = data.size() / k_block;
    const size_t rest = data.size() % k_block;
    tail.fill(0);
    std::memcpy(tail.data(), data.data() + whole_blocks * k_block, rest);
    tail[rest] = static_cast<char>(0x80);
    tail_blocks = rest + 1 + 8 <= k_block ? 1 : 2;
    const uint64_t bits = static_cast<uint64_t>(data.size()) * 8;
    for (size_t i = 0; i < 8; ++i) {
      tail[tail_blocks * k_block - 8 + i] = static_cast<char>((bits >> (8 * i)) & 0xFF);
    }
    tail_done = 0;
    message = index;
    active = true;
  }
  // The block to hash next.
  const char* block() const { return whole_blocks > 0 ? next : tail.data() + tail_done * k_block; }
  // Moves past the block just hashed; true when the message is done.
  bool advance() {
    if (whole_blocks > 0) {
      next += k_block;
      --whole_blocks;
      return false;
    }
    return ++tail_done == tail_blocks;
  }
};

// The digest of the four state words: their bytes, low first (this
// file is built for x86-64 only, which stores them so).
std::string hex_of(const std::array<uint32_t, 4>& state) {
  return to_hex(std::string_view(reinterpret_cast<const char*>(state.data()), sizeof(state)));
}

// The functions marked avx2 or avx512 are only called once the CPU is
// known to have it.
__attribute__((target("avx2"))) inline __m256i rotl(__m256i x, int s) {
  return _mm256_or_si256(_mm256_slli_epi32(x, s), _mm256_srli_epi32(x, 32 - s));
}

// Transposes eight rows of eight 32-bit words in place: afterwards R[j]
// holds word j of every row.
__attribute__((target("avx2"))) inline void transpose8(__m256i (&r)[8]) {
  const __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]);
  const __m256i t1 = _mm256_unpackhi_epi32(r[0], r[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]);
  const __m256i t3 = _mm256_unpackhi_epi32(r[2], r[3]);
  const __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]);
  const __m256i t5 = _mm256_unpackhi_epi32(r[4], r[5]);
  const __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]);
  const __m256i t7 = _mm256_unpackhi_epi32(r[6], r[7]);
  const __m256i u0 = _mm256_unpacklo_epi64(t0, t2);
  const __m256i u1 = _mm256_unpackhi_epi64(t0, t2);
  const __m256i u2 = _mm256_unpacklo_epi64(t1, t3);
  const __m256i u3 = _mm256_unpackhi_epi64(t1, t3);
  const __m256i u4 = _mm256_unpacklo_epi64(t4, t6);
  const __m256i u5 = _mm256_unpackhi_epi64(t4, t6);
  const __m256i u6 = _mm256_unpacklo_epi64(t5, t7);
  const __m256i u7 = _mm256_unpackhi_epi64(t5, t7);
  r[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
  r[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
  r[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
  r[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
  r[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
  r[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
  r[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
  r[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

// The message words of the blocks of eight lanes, BLOCKS[0] to BLOCKS[7]:
// M[j] holds word j of every lane.
__attribute__((target("avx2"))) inline void load_words(__m256i (&m)[16],
                                                       const char* const* blocks) {
  for (size_t half = 0; half < 2; ++half) {
    __m256i rows[8];
    for (size_t l = 0; l < 8; ++l) {
      rows[l] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks[l] + half * 32));
    }
    transpose8(rows);
    for (size_t j = 0; j < 8; ++j) {
      m[half * 8 + j] = rows[j];
    }
  }
}

constexpr std::array<int, 16> k_shift = {7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21};

// Which message word step I adds.
constexpr size_t word_of(int i) {
  switch (i / 16) {
  case 0:
    return static_cast<size_t>(i);
  case 1:
    return static_cast<size_t>(5 * i + 1) % 16;
  case 2:
    return static_cast<size_t>(3 * i + 5) % 16;
  default:
    return static_cast<size_t>(7 * i) % 16;
  }
}

template <size_t N> using LaneState = std::array<std::array<uint32_t, N>, 4>;
template <size_t N> using LaneBlocks = std::array<const char*, N>;

// Runs the 64 MD5 steps over one block per lane, updating STATE (word w
// of lane l at state[w][l]).
__attribute__((target("avx2"))) void compress8(LaneState<8>& state, const LaneBlocks<8>& blocks) {
  __m256i m[16];
  load_words(m, blocks.data());
  const __m256i a0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(state[0].data()));
  const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(state[1].data()));
  const __m256i c0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(state[2].data()));
  const __m256i d0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(state[3].data()));
  __m256i a = a0;
  __m256i b = b0;
  __m256i c = c0;
  __m256i d = d0;
  const __m256i ones = _mm256_set1_epi32(-1);
#pragma GCC unroll 64
  for (int i = 0; i < 64; ++i) {
    __m256i f;
    const int round = i / 16;
    if (round == 0) {
      f = _mm256_or_si256(_mm256_and_si256(b, c), _mm256_andnot_si256(b, d));
    } else if (round == 1) {
      f = _mm256_or_si256(_mm256_and_si256(d, b), _mm256_andnot_si256(d, c));
    } else if (round == 2) {
      f = _mm256_xor_si256(_mm256_xor_si256(b, c), d);
    } else {
      f = _mm256_xor_si256(c, _mm256_or_si256(b, _mm256_xor_si256(d, ones)));
    }
    const __m256i k = _mm256_set1_epi32(static_cast<int>(k_sine[static_cast<size_t>(i)]));
    const __m256i sum =
        _mm256_add_epi32(_mm256_add_epi32(a, f), _mm256_add_epi32(k, m[word_of(i)]));
    const __m256i rotated = rotl(sum, k_shift[static_cast<size_t>(round * 4 + i % 4)]);
    a = d;
    d = c;
    c = b;
    b = _mm256_add_epi32(b, rotated);
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(state[0].data()), _mm256_add_epi32(a0, a));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(state[1].data()), _mm256_add_epi32(b0, b));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(state[2].data()), _mm256_add_epi32(c0, c));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(state[3].data()), _mm256_add_epi32(d0, d));
}

// The same for N lanes (a multiple of eight) as independent groups of
// eight. One MD5 step is a chain of dependent operations, so a single group
// leaves the vector units waiting on latency; several groups fill the gaps.
// AVX-512VL adds a three-input logic instruction, which computes each
// round's function in one operation, and a rotate: the chain per step
// shrinks from six operations to four. (Sixteen lanes in one AVX-512
// register measured slower than two groups of eight on the AMD EPYC CPUs
// this was tuned on.)
template <size_t N>
__attribute__((target("avx2,avx512f,avx512vl"))) void compress_vl(LaneState<N>& state,
                                                                  const LaneBlocks<N>& blocks) {
  constexpr size_t k_groups = N / 8;
  __m256i m[k_groups][16];
  __m256i s0[k_groups][4];
  __m256i s[k_groups][4];
  for (size_t g = 0; g < k_groups; ++g) {
    load_words(m[g], blocks.data() + g * 8);
    for (size_t w = 0; w < 4; ++w) {
      s0[g][w] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(state[w].data() + g * 8));
      s[g][w] = s0[g][w];
    }
  }
#pragma GCC unroll 64
  for (int i = 0; i < 64; ++i) {
    const int round = i / 16;
    const __m256i k = _mm256_set1_epi32(static_cast<int>(k_sine[static_cast<size_t>(i)]));
    const __m256i shift = _mm256_set1_epi32(k_shift[static_cast<size_t>(round * 4 + i % 4)]);
#pragma GCC unroll 8
    for (size_t g = 0; g < k_groups; ++g) {
      __m256i& a = s[g][0];
      __m256i& b = s[g][1];
      __m256i& c = s[g][2];
      __m256i& d = s[g][3];
      // The truth tables of F, G, H and I over (b, c, d).
      __m256i f;
      if (round == 0) {
        f = _mm256_ternarylogic_epi32(b, c, d, 0xCA);
      } else if (round == 1) {
        f = _mm256_ternarylogic_epi32(b, c, d, 0xE4);
      } else if (round == 2) {
        f = _mm256_ternarylogic_epi32(b, c, d, 0x96);
      } else {
        f = _mm256_ternarylogic_epi32(b, c, d, 0x39);
      }
      const __m256i sum =
          _mm256_add_epi32(_mm256_add_epi32(a, f), _mm256_add_epi32(k, m[g][word_of(i)]));
      const __m256i rotated = _mm256_rolv_epi32(sum, shift);
      a = d;
      d = c;
      c = b;
      b = _mm256_add_epi32(b, rotated);
    }
  }
  for (size_t g = 0; g < k_groups; ++g) {
    for (size_t w = 0; w < 4; ++w) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(state[w].data() + g * 8),
                          _mm256_add_epi32(s0[g][w], s[g][w]));
    }
  }
}

// Hashes MESSAGES N at a time with COMPRESS, which runs one block in each
// of N lanes.
template <size_t N, void (*Compress)(LaneState<N>&, const LaneBlocks<N>&)>
std::vector<std::string> md5_lanes(const std::vector<std::string_view>& messages) {
  std::vector<std::string> out(messages.size());
  // Longest first, so that lanes run out of work at about the same time.
  std::vector<size_t> order(messages.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return messages[x].size() > messages[y].size(); });
  static const std::array<char, k_block> k_idle{};
  std::array<LaneJob, N> lanes;
  LaneState<N> state{};
  size_t queued = 0;
  size_t active = 0;
  auto fill = [&](size_t l) {
    if (queued < order.size()) {
      lanes[l].start(messages[order[queued]], order[queued]);
      ++queued;
      ++active;
      for (size_t w = 0; w < 4; ++w) {
        state[w][l] = k_init[w];
      }
    }
  };
  for (size_t l = 0; l < N; ++l) {
    fill(l);
  }
  LaneBlocks<N> blocks{};
  while (active > 0) {
    for (size_t l = 0; l < N; ++l) {
      blocks[l] = lanes[l].active ? lanes[l].block() : k_idle.data();
    }
    Compress(state, blocks);
    for (size_t l = 0; l < N; ++l) {
      if (lanes[l].active && lanes[l].advance()) {
        out[lanes[l].message] = hex_of({state[0][l], state[1][l], state[2][l], state[3][l]});
        lanes[l].active = false;
        --active;
        fill(l);
      }
    }
  }
  return out;
}

size_t widest_lanes() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") != 0 && __builtin_cpu_supports("avx512vl") != 0) {
    return 16;
  }
  return __builtin_cpu_supports("avx2") != 0 ? 8 : 1;
}

} // namespace
#endif

Md5Lanes md5_lane_shape(size_t max_lanes) {
#ifdef APTSHIP_MD5_LANES
  static const size_t k_widest = widest_lanes();
  // Measured on 16 KiB messages against OpenSSL's MD5 of one message at
  // a time (AMD EPYC): sixteen full lanes hash 5.5 times as fast, eight
  // 3.9 times.
  const size_t lanes = std::min(k_widest, max_lanes);
  if (lanes >= 16) {
    return {16, 16 / 5.5};
  }
  if (lanes >= 8) {
    return {8, 8 / 3.9};
  }
#endif
  (void)max_lanes;
  return {1, 1.0};
}

std::vector<std::string> md5_many(const std::vector<std::string_view>& messages, size_t max_lanes) {
#ifdef APTSHIP_MD5_LANES
  const size_t lanes = md5_lane_shape(max_lanes).lanes;
  // Fewer messages than half the lanes leave most of the width idle.
  if (lanes == 16 && messages.size() >= 8) {
    return md5_lanes<16, compress_vl<16>>(messages);
  }
  if (lanes >= 8 && messages.size() >= 4) {
    return md5_lanes<8, compress8>(messages);
  }
#endif
  std::vector<std::string> out;
  out.reserve(messages.size());
  for (std::string_view m : messages) {
    out.push_back(hex_digest(Digest::md5, m));
  }
  return out;
}

} // namespace aptship::deb
