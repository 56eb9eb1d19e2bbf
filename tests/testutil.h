/* Helpers shared by the unit tests. */
#ifndef OSVM_TESTUTIL_H
#define OSVM_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#endif
