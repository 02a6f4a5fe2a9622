// libopendkim's header for C++: dkim.h is C99 and uses _Bool, which C++ lacks (C++'s bool
// has the same size and ABI on the platforms Debian builds for).
#pragma once

#include <sys/types.h>

#ifndef __bool_true_false_are_defined
using _Bool = bool;
#endif

extern "C" {
#include <opendkim/dkim.h>
}
