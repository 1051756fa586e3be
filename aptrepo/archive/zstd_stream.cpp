#include "aptrepo/archive/zstd_stream.hpp"

// For ZSTD_createCCtx_advanced, which gives the compressor an allocator
// (part of libzstd's experimental API, exported by Debian's libzstd1).
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <algorithm>
#include <cstdlib>
#include <span>
#include <vector>

#include "aptrepo/core/large_buffer.hpp"

namespace aptship::archive {

namespace {
struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

// The multithreaded compressor's job buffers (megabytes each, filled over
// and over) come from allocate_large, the rest from malloc; both are
// released with free.
void* compressor_alloc(void* /*opaque*/, size_t size) {
  constexpr size_t k_large = size_t{1} << 20;
  return size >= k_large ? allocate_large(size) : std::malloc(size);
}
void compressor_free(void* /*opaque*/, void* p) {
  std::free(p);
}
} // namespace

struct ZstdStream::Impl {
  std::unique_ptr<ZSTD_CCtx, CCtxFree> cctx;
  OutputArea area;

  Expected<void> pump(std::string_view data, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    while (true) {
      const std::span<char> room = area.space();
      ZSTD_outBuffer ob{room.data(), room.size(), 0};
      size_t rc = ZSTD_compressStream2(cctx.get(), &ob, &in, mode);
      if (ZSTD_isError(rc) != 0U) {
        return make_error("zstd: {}", ZSTD_getErrorName(rc));
      }
      if (ob.pos > 0) {
        TRY(area.commit(ob.pos));
      }
      const bool input_done = in.pos == in.size;
      if (mode == ZSTD_e_continue ? input_done : rc == 0) {
        return {};
      }
    }
  }
};

ZstdStream::ZstdStream(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
ZstdStream::ZstdStream(ZstdStream&&) noexcept = default;
ZstdStream& ZstdStream::operator=(ZstdStream&&) noexcept = default;
ZstdStream::~ZstdStream() = default;

Expected<ZstdStream> ZstdStream::create(int level, unsigned workers, Sink sink) {
  auto out = std::make_shared<std::vector<char>>(ZSTD_CStreamOutSize());
  OutputArea area{.space = [out] { return std::span<char>(*out); },
                  .commit = [out, sink = std::move(sink)](
                                size_t n) { return sink(std::string_view(out->data(), n)); }};
  return create(level, workers, std::move(area));
}

Expected<ZstdStream> ZstdStream::create(int level, unsigned workers, OutputArea area) {
  auto impl = std::make_unique<Impl>();
  impl->area = std::move(area);
  impl->cctx.reset(
      ZSTD_createCCtx_advanced(ZSTD_customMem{compressor_alloc, compressor_free, nullptr}));
  if (!impl->cctx) {
    return make_error("zstd: out of memory");
  }
  auto set = [&](ZSTD_cParameter p, int value) -> Expected<void> {
    size_t rc = ZSTD_CCtx_setParameter(impl->cctx.get(), p, value);
    if (ZSTD_isError(rc) != 0U) {
      return make_error("zstd: {}", ZSTD_getErrorName(rc));
    }
    return {};
  };
  TRY(set(ZSTD_c_compressionLevel, level));
  TRY(set(ZSTD_c_checksumFlag, 1));
  TRY(set(ZSTD_c_nbWorkers, static_cast<int>(std::max(1U, workers))));
  return ZstdStream(std::move(impl));
}

Expected<void> ZstdStream::write(std::string_view data) {
  return m_impl->pump(data, ZSTD_e_continue);
}

Expected<void> ZstdStream::finish() {
  return m_impl->pump({}, ZSTD_e_end);
}

} // namespace aptship::archive
