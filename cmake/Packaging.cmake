# authmilter as a system service: the files beside the programs that `cmake --install`
# puts in place, and the Debian package made from the same install rules (cpack -G DEB).
#
# `cmake --install build` installs under CMAKE_INSTALL_PREFIX (/usr/local by default);
# cpack installs under /usr into its staging directory. What depends on the prefix (the
# program paths inside the systemd units, and where the units go) is therefore worked out
# when the install runs, from the prefix of that run (cmake/InstallSystemd.cmake), not
# when the build is configured.
include(GNUInstallDirs)

# The sample conf names these list files relative to itself, so they go beside it
# (`authmilter -n` fails on a missing list file). As conffiles in the package.
set(AUTHMILTER_CONF_FILES authmilter.conf local-domains trusted-networks ignore-hosts sender-logins)
foreach(file IN LISTS AUTHMILTER_CONF_FILES)
  if(NOT file STREQUAL "authmilter.conf")  # installed by the main CMakeLists.txt
    install(FILES conf/${file} DESTINATION /etc/authmilter)
  endif()
endforeach()

# The man pages of the daemon and the tools (authmilter.conf.5 and authmilter-report.8 are
# installed by the main CMakeLists.txt). cpack gzips every installed page (see below).
install(FILES contrib/authmilter.8 contrib/authmilter-keygen.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES contrib/authmilter-check.1 contrib/authmilter-dns.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# /run/authmilter for the socket, made at boot by systemd-tmpfiles (the unit's
# RuntimeDirectory makes it too, but not for a daemon started by hand or by another init).
# systemd reads PREFIX/lib/tmpfiles.d for both /usr and /usr/local.
install(FILES contrib/authmilter.tmpfiles DESTINATION lib/tmpfiles.d RENAME authmilter.conf)

# The systemd units, written at install time with this install's paths. An empty
# AUTHMILTER_SYSTEMD_UNITDIR means /lib/systemd/system for prefix /usr (Debian 12's place
# for packaged units) and PREFIX/lib/systemd/system otherwise (systemd reads
# /usr/local/lib/systemd/system too).
set(AUTHMILTER_SYSTEMD_UNITDIR "" CACHE STRING "Where the systemd units are installed (empty: by prefix)")
install(CODE "
  set(AUTHMILTER_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
  set(AUTHMILTER_UNIT_WORK_DIR \"${PROJECT_BINARY_DIR}/systemd-units\")
  set(AUTHMILTER_SBINDIR \"${CMAKE_INSTALL_SBINDIR}\")
  set(AUTHMILTER_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(AUTHMILTER_SYSTEMD_UNITDIR \"${AUTHMILTER_SYSTEMD_UNITDIR}\")
  include(\"${PROJECT_SOURCE_DIR}/cmake/InstallSystemd.cmake\")
")

# --------------------------------------------------------------------------------------------
# The Debian package: cpack -G DEB (in the build directory) writes
# authmilter_VERSION_ARCH.deb. Files go under /usr, /etc/authmilter (conffiles),
# /lib/systemd/system and /usr/lib/tmpfiles.d; contrib/debian/ holds the maintainer scripts
# (user, directories, systemd enable/start, purge).
set(AUTHMILTER_PACKAGE_MAINTAINER "authmilter maintainers <postmaster@localhost>"
    CACHE STRING "Maintainer field of the Debian package")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME authmilter)
set(CPACK_PACKAGE_CONTACT "${AUTHMILTER_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "mail filter for relay policy, SPF, DKIM, ARC and DMARC")
# The first line of Description is the summary; this is the rest.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "authmilter is one milter for sendmail and Postfix that replaces OpenDKIM, OpenDMARC
and an SPF policy daemon: relay policy for unauthenticated clients, SPF (RFC 7208),
DKIM verification and signing (RSA and Ed25519), ARC, DMARC (RFC 9989/7489) and
DMARC aggregate and failure reports, in one process with one configuration file,
one Authentication-Results header and one log line per message.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies from dpkg-shlibdeps (dpkg-dev); adduser for the maintainer scripts.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postfix | sendmail-bin")
set(CPACK_STRIP_FILES ON)

set(AUTHMILTER_DEB_CONTROL_DIR "${PROJECT_BINARY_DIR}/debian-control")
set(conffiles "")
foreach(file IN LISTS AUTHMILTER_CONF_FILES)
  string(APPEND conffiles "/etc/authmilter/${file}\n")
endforeach()
file(WRITE "${AUTHMILTER_DEB_CONTROL_DIR}/conffiles" "${conffiles}")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${AUTHMILTER_DEB_CONTROL_DIR}/conffiles;${PROJECT_SOURCE_DIR}/contrib/debian/postinst;${PROJECT_SOURCE_DIR}/contrib/debian/prerm;${PROJECT_SOURCE_DIR}/contrib/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

# Debian wants man pages gzipped (-n: no name or time stamp, so the package is
# reproducible). Done to the staging directory, so that a page any install() rule adds is
# compressed too; `cmake --install` leaves them as they are.
set(CPACK_PRE_BUILD_SCRIPTS "${PROJECT_SOURCE_DIR}/cmake/CompressManPages.cmake")

include(CPack)
