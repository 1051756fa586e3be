#include "aptrepo/archive/zstd_stream.hpp"

#include <zstd.h>

#include <algorithm>
#include <vector>

namespace aptship::archive {

namespace {
struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
} // namespace

struct ZstdStream::Impl {
  std::unique_ptr<ZSTD_CCtx, CCtxFree> cctx;
  Sink sink;
  std::vector<char> out = std::vector<char>(ZSTD_CStreamOutSize());

  Expected<void> pump(std::string_view data, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    while (true) {
      ZSTD_outBuffer ob{out.data(), out.size(), 0};
      size_t rc = ZSTD_compressStream2(cctx.get(), &ob, &in, mode);
      if (ZSTD_isError(rc) != 0U) {
        return make_error("zstd: {}", ZSTD_getErrorName(rc));
      }
      if (ob.pos > 0) {
        TRY(sink(std::string_view(out.data(), ob.pos)));
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
  auto impl = std::make_unique<Impl>();
  impl->sink = std::move(sink);
  impl->cctx.reset(ZSTD_createCCtx());
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
