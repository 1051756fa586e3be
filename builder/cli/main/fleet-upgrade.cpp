#include "builder/cli/command.hpp"

int main(int argc, char** argv) {
  return aptship::cli::run_fleet_upgrade(argc, argv);
}
