# A CPACK_PRE_BUILD_SCRIPTS script (cmake/Packaging.cmake): gzips every man page cpack has
# staged, as Debian policy asks (gzip -9n: no file name or time stamp inside, so the
# package is the same from one build to the next).
file(GLOB_RECURSE pages LIST_DIRECTORIES false "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/*/share/man/man*/*")
foreach(page IN LISTS pages)
  if(NOT page MATCHES "\\.gz$")
    execute_process(COMMAND gzip -9n "${page}" RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "gzip ${page} failed")
    endif()
  endif()
endforeach()
