#include "aptrepo/index/packages_file.hpp"

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "aptrepo/deb/version.hpp"

namespace aptship::index {

namespace {

// Chunks of 64 KiB and more compress as well as the whole text with gzip
// (whose window is 32 KiB) and nearly as well with zstd and xz, while one
// chunk is small enough to recompress in milliseconds.
constexpr size_t k_min_chunk = 64 * 1024;
// A bound for indexes whose package names never hit a boundary.
constexpr size_t k_max_chunk = 1024 * 1024;
// One package name in 16 may start a chunk.
constexpr uint64_t k_boundary_mask = 15;

// FNV-1a: a hash that is the same on every build and platform, since
// boundaries must not move between two publishes.
uint64_t fnv1a(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string_view trimmed(std::string_view stanza) {
  while (!stanza.empty() && (stanza.back() == '\n' || stanza.back() == '\r')) {
    stanza.remove_suffix(1);
  }
  return stanza;
}

} // namespace

Expected<std::vector<size_t>> packages_order(const std::vector<ListedPackage>& packages) {
  std::vector<deb::Version> versions;
  versions.reserve(packages.size());
  for (const ListedPackage& package : packages) {
    auto version = deb::Version::parse(package.version);
    if (!version) {
      return tl::unexpected(version.error().context(fmt::format("package {}", package.name)));
    }
    versions.push_back(std::move(*version));
    std::string_view stanza = trimmed(package.stanza);
    if (stanza.empty() || stanza.find("\n\n") != std::string_view::npos) {
      return make_error("package {} {}: its stanza must be one non-empty paragraph", package.name,
                        package.version);
    }
  }
  std::vector<size_t> order(packages.size());
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  auto compare_at = [&](size_t a, size_t b) {
    const ListedPackage& pa = packages[a];
    const ListedPackage& pb = packages[b];
    if (int c = pa.name.compare(pb.name); c != 0) {
      return c;
    }
    if (int c = deb::compare(versions[b], versions[a]); c != 0) { // newest first
      return c;
    }
    if (int c = pa.architecture.compare(pb.architecture); c != 0) {
      return c;
    }
    return pa.component.compare(pb.component);
  };
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return compare_at(a, b) < 0; });
  for (size_t i = 1; i < order.size(); ++i) {
    if (compare_at(order[i - 1], order[i]) == 0) {
      const ListedPackage& p = packages[order[i]];
      return make_error("package {} {} ({}) is listed twice in component {}", p.name, p.version,
                        p.architecture, p.component);
    }
  }
  return order;
}

PackagesText build_packages_text(const std::vector<ListedPackage>& packages,
                                 const std::vector<size_t>& selected) {
  PackagesText out;
  size_t total = 0;
  for (size_t i : selected) {
    total += packages[i].stanza.size() + 2;
  }
  out.text.reserve(total);
  size_t chunk_begin = 0;
  const std::string* previous_name = nullptr;
  for (size_t i : selected) {
    const ListedPackage& package = packages[i];
    if (previous_name != nullptr) {
      out.text += '\n';
      size_t size = out.text.size() - chunk_begin;
      bool new_name = *previous_name != package.name;
      if (size >= k_max_chunk ||
          (new_name && size >= k_min_chunk && (fnv1a(package.name) & k_boundary_mask) == 0)) {
        out.chunks.push_back({chunk_begin, out.text.size()});
        chunk_begin = out.text.size();
      }
    }
    out.text += trimmed(package.stanza);
    out.text += '\n';
    previous_name = &package.name;
    ++out.stanzas;
  }
  out.chunks.push_back({chunk_begin, out.text.size()});
  return out;
}

} // namespace aptship::index
