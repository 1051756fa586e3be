#include "builder/cli/command.hpp"

int main(int argc, char** argv) {
  return aptship::cli::run(argc, argv);
}
