/*
 * trace.h - loading traces (internal).  The trace format itself (write, read, verify)
 * is public: fs_trace_* in include/farsight.h, docs/TRACE_FORMAT.md.  Here: the one
 * loader every command that takes a trace uses.
 */
#ifndef FS_TRACE_H
#define FS_TRACE_H

#include "farsight.h"

/* A recorded trace file, or a synth:KIND[:SEED[:EVENTS]] spec generated in memory
 * (trace/synth.h).  Same contract as fs_trace_read. */
int fs_trace_load(const char *path, fs_trace_info *info, fs_event **events, size_t *n,
		  char *err, size_t errlen);

#endif
