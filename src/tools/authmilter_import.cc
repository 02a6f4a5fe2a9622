// authmilter-import: writes an authmilter.conf from an OpenDKIM and an OpenDMARC (and
// optionally a policyd-spf) configuration, with the list files it needs, and says on
// standard error (and at the top of the conf) every key it could not carry over and why.
// The mapping is src/import/; this is the command line and the file writing.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "authmilter/import/import.h"
#include "authmilter/version.h"

namespace {

using namespace authmilter;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 64;  // EX_USAGE

void usage(std::ostream& out) {
  out << "usage: authmilter-import [-o FILE] [-D DIR] [-l FILE] [-r STORE] OPENDKIM.CONF OPENDMARC.CONF [POLICYD-SPF.CONF]\n"
         "  Writes an authmilter.conf from the OpenDKIM and OpenDMARC (and policyd-spf) configurations;\n"
         "  \"-\" stands for one that is not used. Every key not carried over is listed on standard\n"
         "  error and at the top of the conf as FILE:LINE: KEY: cannot map|not needed|note|conflict: why.\n"
         "  -o  write the conf to FILE (default: standard output)\n"
         "  -D  write the list files (trusted-networks, ignore-hosts, local-domains) to DIR\n"
         "      (default: the directory of -o FILE, else the current one)\n"
         "  -l  name this existing LocalDomains file instead of writing local-domains\n"
         "  -r  what HistoryFile becomes (default: sqlite:/var/lib/authmilter/reports.db)\n"
         "  Exit: 0 written, 1 an input cannot be read or is malformed, 64 usage error.\n";
}

bool writeFile(const std::string& path, const std::string& content, std::string* error) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << content;
    out.flush();
    if (!out) {
      *error = temporary + ": " + std::strerror(errno);
      return false;
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    *error = path + ": " + std::strerror(errno);
    std::remove(temporary.c_str());
    return false;
  }
  return true;
}

std::string listText(const import::ListFile& list) {
  std::string text = "# " + list.setting + " list written by authmilter-import " + kVersion + "\n";
  for (const auto& line : list.lines) text += line + "\n";
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  std::string output, listDir, localDomains, reportStore;
  int opt;
  while ((opt = getopt(argc, argv, "o:D:l:r:hV")) != -1) {
    switch (opt) {
      case 'o': output = optarg; break;
      case 'D': listDir = optarg; break;
      case 'l': localDomains = optarg; break;
      case 'r': reportStore = optarg; break;
      case 'h': usage(std::cout); return kExitOk;
      case 'V': std::cout << "authmilter-import " << kVersion << "\n"; return kExitOk;
      default: usage(std::cerr); return kExitUsage;
    }
  }
  const int files = argc - optind;
  if (files < 2 || files > 3) {
    usage(std::cerr);
    return kExitUsage;
  }
  const import::Source sources[] = {import::Source::OpenDkim, import::Source::OpenDmarc, import::Source::PolicydSpf};
  std::vector<import::Input> inputs;
  for (int i = 0; i < files; ++i) {
    const std::string path = argv[optind + i];
    if (path == "-") continue;
    const auto text = import::readFromDisk(path);
    if (!text.ok) {
      std::cerr << "authmilter-import: " << path << ": cannot read: " << text.error << "\n";
      return kExitFailed;
    }
    inputs.push_back({sources[i], path, text.text});
  }
  if (inputs.empty()) {
    std::cerr << "authmilter-import: no input (every file is \"-\")\n";
    return kExitUsage;
  }

  // The lists go beside the conf, named relative to it, unless -D says elsewhere.
  namespace fs = std::filesystem;
  const std::string writeDir = !listDir.empty() ? listDir
                               : !output.empty() ? fs::path(output).parent_path().string()
                                                 : std::string();
  import::Options options;
  if (!listDir.empty()) options.listDir = fs::absolute(listDir).lexically_normal().string();
  options.localDomains = localDomains;
  if (!reportStore.empty()) options.reportStore = reportStore;

  const auto result = import::importConfigs(inputs, options);
  if (!result.ok()) {
    for (const auto& e : result.errors) std::cerr << e << "\n";
    std::cerr << "authmilter-import: " << result.errors.size() << " error(s); nothing written\n";
    return kExitFailed;
  }
  for (const auto& f : result.findings) std::cerr << f.toString() << "\n";

  std::string error;
  for (const auto& list : result.lists) {
    const std::string path = (writeDir.empty() ? fs::path(".") : fs::path(writeDir)) / list.name;
    if (!writeFile(path, listText(list), &error)) {
      std::cerr << "authmilter-import: cannot write " << error << "\n";
      return kExitFailed;
    }
    std::cerr << "authmilter-import: wrote " << path
              << (listDir.empty() ? " (keep it beside the conf: the conf names it relative to itself)" : "") << "\n";
  }
  const std::string conf = import::renderConf(result, inputs, kVersion);
  if (output.empty()) {
    std::cout << conf;
    return std::cout.flush() ? kExitOk : kExitFailed;
  }
  if (!writeFile(output, conf, &error)) {
    std::cerr << "authmilter-import: cannot write " << error << "\n";
    return kExitFailed;
  }
  std::cerr << "authmilter-import: wrote " << output << "; check it with: authmilter -n -c " << output << "\n";
  return kExitOk;
}
