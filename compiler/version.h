/* version: nnc's version, printed by --version and part of every compile
 * cache key (code from another version is never loaded). */
#ifndef NNC_VERSION_H
#define NNC_VERSION_H

#define NNC_VERSION "0.2.0"

#endif
