// aptship pack DIR -o FILE.deb [--compress C] [--level N] [--sign]

#include <fmt/format.h>

#include "aptrepo/archive/compression.hpp"
#include "aptrepo/deb/deb_writer.hpp"
#include "aptrepo/sign/signer.hpp"
#include "builder/cli/command.hpp"

namespace aptship::cli {

namespace {

struct PackArgs {
  std::string dir;
  std::string output;
  std::string compress = "zstd";
  int level = -1;
  bool sign = false;
};

Expected<void> run_pack(const Context& ctx, const PackArgs& args) {
  deb::PackOptions options;
  TRY_ASSIGN(options.compression, archive::parse_compression(args.compress));
  options.level = args.level;
  TRY_ASSIGN(options.source_date_epoch, deb::source_date_epoch_from_env());
  std::optional<sign::Signer> signer;
  if (args.sign) {
    const DataDir data = ctx.data_dir();
    TRY_ASSIGN(signer, sign::Signer::open(data.gnupg()));
    // Fails early, before any packing, when there is no key to sign with.
    TRY(signer->fingerprint());
    options.sign = [&signer](const deb::ByteReader& reader) {
      return signer->sign_detached(reader, sign::Armor::no);
    };
  }
  TRY_ASSIGN(deb::PackResult result, deb::pack(args.dir, args.output, options));
  fmt::print("{}: {} {} ({}), {} entries, {} bytes{}\n", args.output, result.package,
             result.version, result.architecture, result.entries, result.size,
             args.sign ? ", signed" : "");
  return {};
}

} // namespace

void add_pack_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<PackArgs>();
  CLI::App* cmd = app.add_subcommand(
      "pack", "build a .deb from DIR laid out as for dpkg-deb -b (DEBIAN/ + files)");
  cmd->add_option("dir", args->dir, "package tree")->required();
  cmd->add_option("-o,--output", args->output, "the .deb to write")->required();
  cmd->add_option("--compress", args->compress, "zstd (default), xz, gzip or none");
  cmd->add_option("--level", args->level, "compression level (default: zstd 3, xz 6, gzip 9)");
  cmd->add_flag("--sign", args->sign, "add a debsigs _gpgorigin signature with the data dir's key");
  set_action(cmd, ctx, [&ctx, args] { return run_pack(ctx, *args); });
}

} // namespace aptship::cli
