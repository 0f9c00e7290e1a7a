// Declarations only (see include/FuzzerDriver.h); SwiftPM needs a source file per C target.
#include "FuzzerDriver.h"
