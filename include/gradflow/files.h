#pragma once
// Writing files so that a reader never sees half of one: write a temporary file beside the
// target, flush it to disk, then rename it over the target. A symbolic link is written through to
// its target and stays a link; a FIFO or a device (/dev/null) is written directly, never replaced.
#include <string>

namespace gradflow {

void write_file_atomic(const std::string& path, const std::string& bytes);
// Appends one line (a '\n' is added) and flushes; used for .jsonl logs.
void append_line(const std::string& path, const std::string& line);

// Reads a whole file. InputError naming it and saying why when it cannot be read:
// "m.safetensors: cannot open the checkpoint: No such file or directory", "…: is a directory".
// `what` names what the file should be ("the checkpoint", "the config").
std::string read_file(const std::string& path, const std::string& what);

// `path` as a person in the working directory would type it: relative when it lies inside the
// working directory ("runs/mnist_mlp"), else as given.
std::string display_path(const std::string& path);

}  // namespace gradflow
