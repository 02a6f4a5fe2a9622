# Run by `cmake --install` and cpack (an install(CODE) rule in cmake/Packaging.cmake): writes
# the systemd units from their templates in contrib/ with the program paths of this
# install's prefix and the shared sandbox, and installs them with the timer.
# In: CMAKE_INSTALL_PREFIX (this run's), AUTHMILTER_SOURCE_DIR, AUTHMILTER_UNIT_WORK_DIR,
# AUTHMILTER_SBINDIR and AUTHMILTER_BINDIR (GNUInstallDirs, usually relative to the prefix),
# AUTHMILTER_SYSTEMD_UNITDIR (empty: chosen by prefix).

function(authmilter_full_dir dir out)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

authmilter_full_dir("${AUTHMILTER_SBINDIR}" AUTHMILTER_FULL_SBINDIR)
authmilter_full_dir("${AUTHMILTER_BINDIR}" AUTHMILTER_FULL_BINDIR)
set(unitdir "${AUTHMILTER_SYSTEMD_UNITDIR}")
if(unitdir STREQUAL "")
  if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    set(unitdir /lib/systemd/system)
  else()
    set(unitdir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
  endif()
endif()

# Both services share one sandbox (contrib/authmilter-sandbox.inc).
file(READ "${AUTHMILTER_SOURCE_DIR}/contrib/authmilter-sandbox.inc" AUTHMILTER_SANDBOX)
string(STRIP "${AUTHMILTER_SANDBOX}" AUTHMILTER_SANDBOX)
set(units "")
foreach(unit authmilter.service authmilter-report.service)
  configure_file("${AUTHMILTER_SOURCE_DIR}/contrib/${unit}.in" "${AUTHMILTER_UNIT_WORK_DIR}/${unit}" @ONLY)
  list(APPEND units "${AUTHMILTER_UNIT_WORK_DIR}/${unit}")
endforeach()
list(APPEND units "${AUTHMILTER_SOURCE_DIR}/contrib/authmilter-report.timer")
file(INSTALL DESTINATION "${unitdir}" TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES ${units})
