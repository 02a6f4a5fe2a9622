// The settings table is the one source of the option documentation: the shipped sample
// conf and man page must be exactly what it generates, and every row must document
// itself (syntax, help stating its default, a sample line for its own key).
#include <gtest/gtest.h>

#include <string>

#include "authmilter/config/settings.h"
#include "authmilter/version.h"
#include "fixture_files.h"

namespace authmilter::config {
namespace {

constexpr const char* kRegenerate =
    "\nthe shipped file differs from the settings table (src/config/settings.cc): edit the table, then run\n"
    "  build/authmilter-confgen conf > conf/authmilter.conf\n"
    "  build/authmilter-confgen man > contrib/authmilter.conf.5";

TEST(SettingsDocsTest, ShippedSampleConfIsTheGeneratedOne) {
  EXPECT_EQ(renderSampleConf(), testsupport::readFile(AUTHMILTER_SOURCE_DIR "/conf/authmilter.conf")) << kRegenerate;
}

TEST(SettingsDocsTest, ShippedManPageIsTheGeneratedOne) {
  EXPECT_EQ(renderManPage(kVersion), testsupport::readFile(AUTHMILTER_SOURCE_DIR "/contrib/authmilter.conf.5"))
      << kRegenerate;
}

TEST(SettingsDocsTest, EveryRowDocumentsItself) {
  for (const auto& def : settingDefs()) {
    SCOPED_TRACE(std::string(def.name));
    EXPECT_FALSE(def.syntax.empty());
    EXPECT_NE(def.help.find("Default: "), std::string_view::npos) << "help does not state the default";
    if (!def.defaultValue.empty() && def.kind != SettingKind::Words && def.kind != SettingKind::Duration) {
      EXPECT_NE(def.help.find("Default: " + std::string(def.defaultValue)), std::string_view::npos)
          << "help states another default than " << def.defaultValue;
    }
    const std::string key(def.name);
    EXPECT_TRUE(def.sample.starts_with(key + " ") || def.sample.starts_with("# " + key + " ") ||
                def.sample.starts_with("# " + key + "\t"))
        << "sample line: " << def.sample;
    bool listed = false;
    for (const auto& section : settingSections()) listed = listed || section.name == def.section;
    EXPECT_TRUE(listed) << "section " << def.section << " is not in the section list";
  }
}

// Every Bool, Integer, Duration and Enum row binds its field through the table, with the
// binding of its own kind; the loader reads the other rows itself.
TEST(SettingsDocsTest, SimpleRowsBindTheirFieldThroughTheTable) {
  for (const auto& def : settingDefs()) {
    SCOPED_TRACE(std::string(def.name));
    const int bindings = (def.bind.flag != nullptr) + (def.bind.number != nullptr) + (def.bind.duration != nullptr) +
                         (def.bind.choice != nullptr);
    // Read with the signing keys (they shape the signer, not a Config field).
    const bool signing = def.name == "RequireSafeKeys" || def.name == "SignatureTTL";
    switch (def.kind) {
      case SettingKind::Bool: EXPECT_TRUE(def.bind.flag != nullptr || signing); break;
      case SettingKind::Integer: EXPECT_TRUE(def.bind.number != nullptr || signing); break;
      case SettingKind::Duration: EXPECT_NE(def.bind.duration, nullptr); break;
      case SettingKind::Enum: EXPECT_NE(def.bind.choice, nullptr); break;
      default: EXPECT_EQ(bindings, 0); break;
    }
    EXPECT_LE(bindings, 1);
  }
}

}  // namespace
}  // namespace authmilter::config
