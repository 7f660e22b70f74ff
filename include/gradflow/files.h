#pragma once
// Writing files so that a reader never sees half of one: write a temporary file beside the
// target, flush it to disk, then rename it over the target. A symbolic link is written through to
// its target and stays a link; a FIFO or a device (/dev/null) is written directly, never replaced.
#include <string>

namespace gradflow {

void write_file_atomic(const std::string& path, const std::string& bytes);
// Appends one line (a '\n' is added) and flushes; used for .jsonl logs.
void append_line(const std::string& path, const std::string& line);

}  // namespace gradflow
